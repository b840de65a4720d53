// Start-up failures of the REAL single binary (dist/<arch>/igmpproxy, from `npm run build`;
// skipped without it), each made to happen for real: every one must end the start with exit
// 1 and ONE line that names the cause and what to do, on stderr (-d, and the default
// detached start, whose background copy hands it to the foreground through the readiness
// pipe) AND in syslog.
//
// Each run is in a private mount namespace with IPFire's /run (src/initscripts/system/
// mountkernfs: tmpfs nosuid,nodev,noexec,mode=755,size=8M; /dev/shm noexec too) and a /dev
// whose `log` is a datagram socket this test listens on (a Python listener: Node cannot
// bind AF_UNIX datagram sockets), and in a new network namespace with only lo.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT as root } from '../../build/repository.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const distBinary = path.join(root, 'dist', process.arch === 'arm64' ? 'aarch64' : 'x86_64', 'igmpproxy');
/**
 * The binary runs from a copy in the scratch directory: it makes its shim file beside
 * itself (O_TMPFILE), which the test VM's overlay root cannot (overlayfs has O_TMPFILE only
 * from Linux 6.6), while an appliance's /usr/sbin and this /tmp can.
 */
let binary = '';
const isRoot = process.getuid?.() === 0;
const tools = ['unshare', 'python3', 'setpriv'].every((tool) => spawnSync(tool, ['--version']).status === 0);
/** /proc/net/ip_mr_vif exists exactly when the kernel has CONFIG_IP_MROUTE. */
const kernelHasMroute = existsSync('/proc/net/ip_mr_vif');
const skipReason = !existsSync(distBinary)
  ? `no ${distBinary} (npm run build)`
  : !isRoot
    ? 'needs root (mount and network namespaces)'
    : !tools
      ? 'needs unshare, setpriv (util-linux) and python3'
      : undefined;
if (skipReason) console.warn(`start-up failure tests skipped: ${skipReason}`);

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
s.settimeout(float(sys.argv[2]))
while True:
    print(s.recv(4096).decode(errors="replace"), flush=True)
`;

/** Holds MRT_INIT in its network namespace, as a running multicast router does. */
const MROUTE_HOLDER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
s.setsockopt(socket.IPPROTO_IP, 200, 1)
open(sys.argv[1], "w").close()
time.sleep(float(sys.argv[2]))
`;

// PID 1 of a new PID namespace (everything started here dies with it); $1.. is the
// command. DEV: the prepared /dev; RO_DIR: a directory to make read-only (with /var/tmp,
// the shim's second place); HOLD: a file the
// MRT_INIT holder creates once it holds it; IMPOSTOR: a program named igmpproxy to start and
// name in the pidfile PIDFILE.
const ENTER = `
set -e
mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=8M tmpfs /run
for name in null zero full random urandom; do : > "$DEV/$name"; mount --bind "/dev/$name" "$DEV/$name"; done
mkdir -p "$DEV/shm" && mount -t tmpfs -o nosuid,nodev,noexec tmpfs "$DEV/shm"
ln -sfn /proc/self/fd "$DEV/fd"
mount --rbind "$DEV" /dev
if [ -n "$RO_DIR" ]; then
  for dir in "$RO_DIR" /var/tmp; do mount --bind "$dir" "$dir" && mount -o remount,bind,ro "$dir"; done
fi
ip link set lo up 2>/dev/null || true
if [ -n "$HOLD" ]; then
  python3 -c "$HOLDER" "$HOLD" 60 &
  for i in $(seq 1 100); do [ -e "$HOLD" ] && break; sleep 0.1; done
fi
if [ -n "$IMPOSTOR" ]; then
  "$IMPOSTOR" 60 &
  echo "$!" > "$PIDFILE"
fi
"$@"
exit "$?"
`;

interface Outcome {
  readonly code: number | null;
  readonly stderr: string;
  /** Datagrams the namespace's /dev/log received. */
  readonly syslog: string[];
}

let scratch = '';
/** A copy of sleep(1) called igmpproxy: its comm is what the pidfile check trusts. */
function impostor(): string {
  const file = path.join(scratch, 'igmpproxy');
  if (!existsSync(file)) copyFileSync('/bin/sleep', file);
  return file;
}
let config = '';
let counter = 0;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'ipsm-startup-'));
  mkdirSync(path.join(scratch, 'bin'));
  binary = path.join(scratch, 'bin', 'igmpproxy');
  if (existsSync(distBinary)) copyFileSync(distBinary, binary);
  config = path.join(scratch, 'igmpproxy.conf');
  // Valid and warning-free: the only stderr line of a failed detached start is the failure.
  writeFileSync(config, 'phyint ipsm0 upstream\nphyint ipsm1 downstream\n');
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface RunOptions {
  readonly prefix?: readonly string[];
  readonly readOnlyBinaryDir?: boolean;
  readonly holdMroute?: boolean;
  /** Starts a process named igmpproxy and writes its pid to this pidfile first. */
  readonly impostorPidfile?: string;
  /** Ends the run (kills the namespace) once stderr matches: a daemon that started. */
  readonly until?: RegExp;
}

/** Runs the binary with args in fresh namespaces and collects what reached stderr and syslog. */
async function runInNamespaces(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  const dev = path.join(scratch, `dev${++counter}`);
  mkdirSync(dev);
  const socketPath = path.join(dev, 'log');
  const listener = spawn('python3', ['-c', LISTENER, socketPath, String(scaled(120_000) / 1000)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const received: string[] = [];
  let buffered = '';
  listener.stdout.setEncoding('utf8');
  listener.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    received.push(...lines);
  });
  const listenerDone = new Promise<void>((resolve) => listener.on('exit', () => resolve()));
  for (let i = 0; i < 100 && received[0] !== 'ready'; i++)
    await new Promise((resolve) => setTimeout(resolve, scaled(50)));
  expect(received[0], 'syslog listener ready').toBe('ready');

  const command = [...(options.prefix ?? []), binary, ...args];
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    DEV: dev,
    RO_DIR: options.readOnlyBinaryDir ? path.dirname(binary) : '',
    HOLD: options.holdMroute ? path.join(dev, 'held') : '',
    HOLDER: MROUTE_HOLDER,
    IMPOSTOR: options.impostorPidfile ? impostor() : '',
    PIDFILE: options.impostorPidfile ?? '',
  };
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const namespaces = ['-m', '--propagation', 'private', '-n', '-p', '--fork', '--kill-child', '--mount-proc'];
    const child = spawn('unshare', [...namespaces, 'sh', '-c', ENTER, 'enter', ...command], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (options.until?.test(stderr)) child.kill('SIGKILL'); // --kill-child takes the namespace down
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), scaled(30_000));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
  // Every datagram was sent before the process ended; give the listener time to print it.
  await new Promise((resolve) => setTimeout(resolve, scaled(300)));
  listener.kill();
  await listenerDone;
  return { ...result, syslog: received.slice(1) };
}

/** The failure line: exactly once on stderr, and in syslog as igmpproxy[pid] at daemon.err. */
function expectReported(outcome: Outcome, line: RegExp): void {
  expect(outcome.code, outcome.stderr).toBe(1);
  const failures = outcome.stderr.split('\n').filter((text) => line.test(text));
  expect(failures, outcome.stderr).toHaveLength(1);
  expect(failures[0]).toMatch(/^igmpproxy: /);
  expect(outcome.stderr).not.toMatch(/build it with|scripts\/node24/);
  const logged = outcome.syslog.filter((text) => line.test(text));
  expect(logged, JSON.stringify(outcome.syslog)).toHaveLength(1);
  expect(logged[0]).toMatch(/^<27>\w{3} [ \d]\d \d\d:\d\d:\d\d igmpproxy\[\d+\]: (?!igmpproxy: )/);
}

const MODES = [
  { name: '-d', mode: ['-d'] },
  { name: '(detached)', mode: [] },
] as const;

describe.skipIf(skipReason !== undefined)('start-up failures of the single binary', () => {
  describe.each(MODES)('igmpproxy $name CONFIG', ({ mode }) => {
    it(
      "IPFire's noexec /run does not stop it: the shim loads from a nameless file beside the binary",
      async () => {
        const outcome = await runInNamespaces([...mode, config], { until: /notice\s+started/ });
        expect(outcome.stderr).not.toMatch(/native part|native shim|map segment/);
        if (kernelHasMroute) {
          expect(outcome.stderr).not.toMatch(/^igmpproxy: /m);
          if (mode.length > 0) expect(outcome.stderr).toMatch(/notice\s+started/);
          else expect(outcome.code).toBe(0);
        } else {
          expectReported(
            outcome,
            /this kernel has no multicast routing \(MRT_INIT: ENOPROTOOPT\); it needs a kernel built with CONFIG_IP_MROUTE/,
          );
        }
      },
      scaled(60_000),
    );

    it(
      'the shim cannot be loaded anywhere (read-only binary directory and /var/tmp, noexec /run): one line, also in syslog',
      async () => {
        const outcome = await runInNamespaces([...mode, config], { readOnlyBinaryDir: true });
        expectReported(
          outcome,
          /cannot load the daemon's native part \(igmp_shim\.node\): .*: read-only filesystem; \/var\/tmp: read-only filesystem; \/run: mounted noexec\. Install the binary on a writable filesystem mounted exec/,
        );
      },
      scaled(60_000),
    );

    it(
      'without CAP_NET_RAW the raw socket is refused: one line naming the capability',
      async () => {
        const outcome = await runInNamespaces([...mode, config], {
          prefix: ['setpriv', '--bounding-set', '-net_raw,-net_admin'],
        });
        expectReported(
          outcome,
          /cannot open the raw IGMP socket \(socket: EPERM\): run igmpproxy as root with CAP_NET_RAW and CAP_NET_ADMIN/,
        );
      },
      scaled(60_000),
    );

    it(
      'a live igmpproxy holding the pidfile: one line saying how to stop it',
      async () => {
        const pidfile = path.join(scratch, `held${counter}.pid`);
        const outcome = await runInNamespaces([...mode, '--pidfile', pidfile, config], { impostorPidfile: pidfile });
        expectReported(outcome, /another igmpproxy is running with pid \d+ \(.*held\d+\.pid\); stop it first/);
      },
      scaled(60_000),
    );

    // Only a kernel with multicast routing can have another router holding it. This file
    // runs on such a kernel too (in the test VM when this machine's has none: see
    // vitest.config.ts), so the case is registered there rather than skipped here.
    if (kernelHasMroute) {
      it(
        'another multicast router holds MRT_INIT: one line telling to stop it (needs CONFIG_IP_MROUTE)',
        async () => {
          const outcome = await runInNamespaces([...mode, config], { holdMroute: true });
          expectReported(
            outcome,
            /another multicast router .* already runs in this network namespace \(MRT_INIT: EADDRINUSE\)\. Stop it first/,
          );
        },
        scaled(60_000),
      );
    }
  });
});
