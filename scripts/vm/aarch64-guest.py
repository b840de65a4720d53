#!/usr/bin/python3
# The aarch64 forwarding check, run inside the emulated aarch64 VM by scripts/test-aarch64.ts
# (python3-minimal: no ctypes, so other namespaces are entered with `ip netns exec`).
#
#   ia64-prov ns                 ia64-rtr ns (the daemon)                 ia64-tv ns
#   provider: UDP to GROUP       ia64up 10.64.1.1/24 (upstream)
#   ia64prov0 10.64.1.2/24 ──── veth
#                                ia64dn 10.64.2.1/24 (downstream) ──── veth ──── ia64tv0 10.64.2.2/24
#
# Steps (each prints PASS or FAIL with its timing; the first failure ends the run):
# the daemon programs its VIFs; nothing reaches the TV before it joins; the TV joins
# (IP_ADD_MEMBERSHIP: the kernel sends the report) and the stream arrives; the TV leaves
# and the stream stops within a bound (quickleave); SIGTERM empties the multicast routing
# tables. Exit status 0 only when every step passed.
#
#   python3 aarch64-guest.py check DAEMON_BINARY WORK_DIR      (the check)
#   python3 aarch64-guest.py provider | tv                      (its helpers, in a namespace)
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

PROVIDER_NS, ROUTER_NS, TV_NS = 'ia64-prov', 'ia64-rtr', 'ia64-tv'
PROVIDER_IF, UPSTREAM_IF, DOWNSTREAM_IF, TV_IF = 'ia64prov0', 'ia64up', 'ia64dn', 'ia64tv0'
PROVIDER_ADDR, UPSTREAM_ADDR, DOWNSTREAM_ADDR, TV_ADDR = '10.64.1.2', '10.64.1.1', '10.64.2.1', '10.64.2.2'
GROUP, PORT = '239.64.0.1', 5000
LEAVE_BOUND = 1.0
PACKET_INTERVAL = 0.05
IP_BINARY = '/bin/ip'  # iproute2 (busybox's ash would pick its own, smaller `ip` applet)
ETH_P_IP = 0x0800

# How much slower than native this guest runs (set by the runner); every wait below is a
# native bound stretched by it. What is asserted never changes.
SLOWDOWN = max(1.0, float(os.environ.get('IGMPPROXY_TEST_SLOWDOWN', '1')))


def scaled(seconds):
    return seconds * SLOWDOWN


# The configuration: addon/etc/igmpproxy.conf's shape (quickleave, thresholds, altnets),
# with this lab's interfaces. The stream's source is in the upstream's own subnet.
CONFIG = f"""# igmpproxy.conf of the aarch64 forwarding check
quickleave
phyint {UPSTREAM_IF} upstream ratelimit 0 threshold 1
    altnet 217.0.0.0/16
    altnet 193.158.35.0/24
phyint {DOWNSTREAM_IF} downstream ratelimit 0 threshold 1
phyint lo disabled
"""


# ---- helpers that run inside a namespace ----------------------------------------------

def provider():
    """Streams numbered UDP packets to GROUP from PROVIDER_ADDR until killed (bounded)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 16)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(PROVIDER_ADDR))
    sock.bind((PROVIDER_ADDR, 0))
    deadline = time.monotonic() + 3600
    sequence = 0
    while time.monotonic() < deadline:
        sock.sendto(sequence.to_bytes(8, 'big'), (GROUP, PORT))
        sequence += 1
        time.sleep(PACKET_INTERVAL)


def tv():
    """
    A TV: joins and leaves GROUP on the commands "join"/"leave" from stdin, and reports
    every stream packet on its wire (AF_PACKET sees them whether or not it is a member)
    as "wire T SEQ" and every one its joined socket receives as "app T SEQ" (T: monotonic).
    """
    wire = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    wire.bind((TV_IF, ETH_P_IP))
    app = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    app.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    app.bind((GROUP, PORT))
    membership = struct.pack('4s4s', socket.inet_aton(GROUP), socket.inet_aton(TV_ADDR))
    group = socket.inet_aton(GROUP)
    say('ready')
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sys.stdin, wire, app], [], [], 1.0)
        for source in readable:
            if source is sys.stdin:
                command = sys.stdin.readline().strip()
                if command == 'join':
                    app.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
                elif command == 'leave':
                    app.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, membership)
                elif command in ('quit', ''):
                    return
                say(f'done {command} {time.monotonic():.6f}')
            elif source is wire:
                packet = wire.recv(2048)
                header_length = (packet[0] & 0x0f) * 4
                if len(packet) >= header_length + 16 and packet[9] == socket.IPPROTO_UDP and packet[16:20] == group:
                    say(f'wire {time.monotonic():.6f} {int.from_bytes(packet[header_length + 8:header_length + 16], "big")}')
            else:
                data = app.recv(2048)
                say(f'app {time.monotonic():.6f} {int.from_bytes(data[:8], "big")}')


def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


# ---- the check ----------------------------------------------------------------------

class StepFailed(Exception):
    pass


class Tv:
    """The driver's side of the TV helper: commands in, timestamped events out."""

    def __init__(self, process):
        self.process = process
        self.buffer = b''
        self.last_wire = None
        self.wire_count = 0
        self.app_count = 0
        self.first_app = None

    def command(self, word, timeout):
        self.process.stdin.write(f'{word}\n'.encode())
        self.process.stdin.flush()
        return float(self.wait(lambda line: line.startswith(f'done {word} '), timeout, f'the TV to {word}').split()[2])

    def wait(self, predicate, timeout, what):
        """
        Reads events until predicate holds for one (or, at least every 0.1 s, for '': no
        event); StepFailed after timeout seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines(min(0.1, deadline - time.monotonic())) or ['']:
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                raise StepFailed(f'no {what} within {timeout:.1f} s')

    def drain(self, seconds):
        """Reads events for the given time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in self.lines(deadline - time.monotonic()):
                pass

    def lines(self, timeout):
        readable, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        if not readable:
            return []
        chunk = os.read(self.process.stdout.fileno(), 65536)
        if chunk == b'':
            raise StepFailed(f'the TV helper exited (status {self.process.wait(timeout=5)})')
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b'\n')
        lines = [line.decode() for line in complete]
        for line in lines:
            kind, _, rest = line.partition(' ')
            if kind == 'wire':
                self.wire_count += 1
                self.last_wire = float(rest.split()[0])
            elif kind == 'app':
                self.app_count += 1
                if self.first_app is None:
                    self.first_app = float(rest.split()[0])
        return lines


def ip(*args, timeout=30):
    result = subprocess.run([IP_BINARY, *args], capture_output=True, text=True, timeout=scaled(timeout))
    if result.returncode != 0:
        raise StepFailed(f'ip {" ".join(args)}: {result.stderr.strip()}')
    return result.stdout


def router_proc(name):
    """Lines of /proc/net/NAME in the router's namespace, without the header."""
    return ip('netns', 'exec', ROUTER_NS, 'cat', f'/proc/net/{name}').splitlines()[1:]


def wait_until(condition, timeout, interval, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(f'{what} not within {timeout:.1f} s')
        time.sleep(interval)


def make_lab():
    for namespace in (PROVIDER_NS, ROUTER_NS, TV_NS):
        ip('netns', 'add', namespace)
    for outer_ns, outer_if, outer_addr, inner_if, inner_addr in (
            (PROVIDER_NS, PROVIDER_IF, PROVIDER_ADDR, UPSTREAM_IF, UPSTREAM_ADDR),
            (TV_NS, TV_IF, TV_ADDR, DOWNSTREAM_IF, DOWNSTREAM_ADDR)):
        ip('-n', ROUTER_NS, 'link', 'add', inner_if, 'type', 'veth', 'peer', 'name', outer_if, 'netns', outer_ns)
        ip('-n', ROUTER_NS, 'address', 'add', f'{inner_addr}/24', 'dev', inner_if)
        ip('-n', outer_ns, 'address', 'add', f'{outer_addr}/24', 'dev', outer_if)
        ip('-n', ROUTER_NS, 'link', 'set', inner_if, 'up')
        ip('-n', outer_ns, 'link', 'set', outer_if, 'up')
    for namespace in (PROVIDER_NS, ROUTER_NS, TV_NS):
        ip('-n', namespace, 'link', 'set', 'lo', 'up')


def remove_lab():
    for namespace in (PROVIDER_NS, ROUTER_NS, TV_NS):
        subprocess.run([IP_BINARY, 'netns', 'delete', namespace], capture_output=True, timeout=scaled(30))


def stop(process):
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(timeout=scaled(30))


def in_namespace(namespace, argv, **options):
    return subprocess.Popen([IP_BINARY, 'netns', 'exec', namespace, *argv], **options)


def check(binary, work_dir):
    results = []
    daemon = provider_process = tv_process = None
    log_path = os.path.join(work_dir, 'igmpproxy.log')

    def step(name, run):
        started = time.monotonic()
        try:
            detail = run()
        except (StepFailed, subprocess.SubprocessError, OSError) as error:
            say(f'FAIL  {name}: {error} ({time.monotonic() - started:.1f} s)')
            results.append(False)
            return False
        say(f'PASS  {name}: {detail}')
        results.append(True)
        return True

    try:
        os.makedirs(work_dir, exist_ok=True)
        config_path = os.path.join(work_dir, 'igmpproxy.conf')
        with open(config_path, 'w') as config:
            config.write(CONFIG)
        # Executed from the share (9p without a cache) Node's start reads its 100 MB over
        # and over: ~25 s a start here; from tmpfs ~2 s, after a 7 s copy.
        copying = time.monotonic()
        daemon_binary = os.path.join(work_dir, 'igmpproxy')
        subprocess.run(['cp', binary, daemon_binary], check=True, timeout=scaled(30))
        say(f'copied {binary} to {daemon_binary} in {time.monotonic() - copying:.1f} s')
        me = os.path.abspath(__file__)
        remove_lab()  # Leftovers of nothing: the guest is fresh, but the names are ours.
        make_lab()
        provider_process = in_namespace(PROVIDER_NS, [sys.executable, me, 'provider'], stdin=subprocess.DEVNULL)
        tv_process = in_namespace(TV_NS, [sys.executable, me, 'tv'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        tv = Tv(tv_process)
        log = open(log_path, 'w')
        started = time.monotonic()
        daemon = in_namespace(ROUTER_NS, [daemon_binary, '-d', '-v', '--pidfile', os.path.join(work_dir, 'igmpproxy.pid'), config_path],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def daemon_starts():
            def vifs():
                if daemon.poll() is not None:
                    raise StepFailed(f'the daemon exited with status {daemon.returncode}')
                lines = router_proc('ip_mr_vif')
                return lines if len(lines) == 2 else None
            lines = wait_until(vifs, scaled(10), 0.2, 'two VIFs')
            names = sorted(line.split()[1] for line in lines)
            if names != sorted([UPSTREAM_IF, DOWNSTREAM_IF]):
                raise StepFailed(f'VIFs are {names}')
            tv.wait(lambda line: line == 'ready', scaled(10), 'ready TV helper')
            return f'VIFs {", ".join(names)} in /proc/net/ip_mr_vif {time.monotonic() - started:.1f} s after the start'

        def nothing_before_join():
            window = scaled(0.25)
            tv.drain(window)
            if tv.wire_count > 0:
                raise StepFailed(f'{tv.wire_count} stream packets reached the TV before it joined')
            return f'no stream packet at the TV in {window:.1f} s before its join'

        def join():
            joined = tv.command('join', scaled(5))
            tv.wait(lambda line: line.startswith('app '), scaled(5), 'stream packet at the TV after its join')
            tv.wait(lambda _: tv.app_count >= 10, scaled(2), 'ten stream packets at the TV')
            routes = [line for line in router_proc('ip_mr_cache') if line.split()[0] == socket.inet_aton(GROUP)[::-1].hex().upper()]
            if not routes:
                raise StepFailed('no route for the group in /proc/net/ip_mr_cache')
            return f'first packet {tv.first_app - joined:.2f} s after the join, {tv.app_count} packets; route {" ".join(routes[0].split())}'

        def leave():
            left = tv.command('leave', scaled(5))
            quiet = scaled(0.15)
            # Not scaled: without quickleave the stream would run on for the last member
            # query time (2 x 1 s by the RFC, timers in wall-clock time that emulation does
            # not stretch); with it the leave takes the daemon ~1 ms natively.
            bound = LEAVE_BOUND
            tv.wait(lambda _: time.monotonic() - max(left, tv.last_wire or left) >= quiet, bound + quiet + scaled(1), 'quiet wire')
            stopped = max(0.0, (tv.last_wire or left) - left)
            if stopped > bound:
                raise StepFailed(f'the stream went on {stopped:.2f} s after the leave (bound {bound:.2f} s)')
            return f'last packet {stopped:.2f} s after the leave (bound {bound:.2f} s), then {quiet:.1f} s without one'

        def rejoin():
            count = tv.app_count
            joined = tv.command('join', scaled(5))
            tv.wait(lambda _: tv.app_count > count, scaled(5), 'stream packet after joining again')
            return f'stream back {time.monotonic() - joined:.2f} s after joining again'

        def sigterm():
            if not router_proc('ip_mr_cache'):
                raise StepFailed('no route in /proc/net/ip_mr_cache before SIGTERM')
            sent = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            try:
                status = daemon.wait(timeout=scaled(5))
            except subprocess.TimeoutExpired:
                raise StepFailed(f'the daemon still runs {scaled(5):.1f} s after SIGTERM')
            exited = time.monotonic() - sent
            if status != 0:
                raise StepFailed(f'the daemon exited with status {status}')
            left = {name: router_proc(name) for name in ('ip_mr_vif', 'ip_mr_cache')}
            if any(left.values()):
                raise StepFailed(f'entries left: {left}')
            return f'exit status 0 {exited:.2f} s after SIGTERM; /proc/net/ip_mr_vif and ip_mr_cache empty'

        for name, run in (('daemon starts', daemon_starts),
                          ('no stream before a join', nothing_before_join),
                          ('TV joins -> stream arrives', join),
                          ('TV leaves -> stream stops (quickleave)', leave),
                          ('TV joins again -> stream back', rejoin),
                          ('SIGTERM -> routing tables empty', sigterm)):
            if not step(name, run):
                break
    except (StepFailed, subprocess.SubprocessError, OSError) as error:
        say(f'FAIL  setting up the lab: {error}')
        results.append(False)
    finally:
        for process in (daemon, provider_process, tv_process):
            stop(process)
        remove_lab()
    passed = results.count(True)
    if not all(results) and os.path.exists(log_path):
        with open(log_path) as log:
            say('--- the daemon\'s log (last 40 lines) ---')
            sys.stdout.write(''.join(log.readlines()[-40:]))
    say(f'aarch64 forwarding: {passed} passed, {len(results) - passed} failed')
    return 0 if results and all(results) else 1


if __name__ == '__main__':
    role = sys.argv[1] if len(sys.argv) > 1 else ''
    if role == 'provider':
        provider()
    elif role == 'tv':
        tv()
    elif role == 'check' and len(sys.argv) == 4:
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.stderr.write('usage: aarch64-guest.py check DAEMON_BINARY WORK_DIR | provider | tv\n')
        sys.exit(2)
