// The rendered initscript (/etc/rc.d/init.d/igmpproxy) and red.up hook, run in the throwaway
// appliance root with IPFire's own rc functions (test/helpers/ipfire-root.ts), in a network
// namespace of the test.
//
// The daemon's --check and --list-interfaces are the real daemon's. Only its running part is
// a stand-in (test/fixtures/appliance/igmpproxy-standin: it honours the pidfile, forks and
// logs signals to /var/run/igmpproxy-standin.log), because running needs multicast routing,
// which this machine's kernel lacks; real-daemon.test.ts runs the same scripts against
// dist/<arch>/igmpproxy whenever a build left it there.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { Appliance, buildStandinPackage } from './appliance.ts';
import { applianceSupport, PREFIX } from './support.ts';
import { REPO_ROOT } from '../../build/render.ts';
import { hostShareRule } from './host-share.ts';

const support = applianceSupport();

const INFO = '\x1b[1;36m';
const WARNING = '\x1b[1;33m';
const NORMAL = '\x1b[0;39m';
const NOT_RUNNING = `${INFO}/usr/sbin/igmpproxy is not running.${NORMAL}`;
const RUNNING = new RegExp(
  `^${escapeRegExp(INFO)}igmpproxy is running with Process ID\\(s\\)  (\\d+)\\.${escapeRegExp(NORMAL)}$`,
);

const CONFIG = 'quickleave\nphyint ipp6up0 upstream ratelimit 0 threshold 1\nphyint ipp6dn0 downstream\n';
const BAD_CONFIG = 'phyint ipp6up0 upstream\nbogus keyword\n';
/** What the real daemon's parser says about line 2 of BAD_CONFIG (and of "bogus" alone). */
const PARSER_ERROR = '/etc/igmpproxy.conf:2:1: error: unknown keyword `bogus`';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits the output of a STEPS script into { name, output, code } per step. */
function steps(stdout: string): Array<{ name: string; output: string; code: number }> {
  const result: Array<{ name: string; output: string; code: number }> = [];
  const pattern = /^=== (.*)\n([\s\S]*?)^=== rc=(\d+)$/gm;
  for (const match of stdout.matchAll(pattern))
    result.push({ name: match[1]!, output: match[2]!, code: Number(match[3]) });
  return result;
}

const STEP_FUNCTION = 'step() { echo "=== $*"; "$@"; echo "=== rc=$?"; }';
const INIT = '/etc/rc.d/init.d/igmpproxy';
const HOOK = '/etc/rc.d/init.d/networking/red.up/15-igmpproxy';

// Each step runs real scripts in fresh namespaces; a shared 2-core machine can be slow.
describe.skipIf(!support.available)(`initscript and red.up hook ${support.reason}`, { timeout: 180_000 }, () => {
  const lab = new NetnsLab(PREFIX);
  let work = '';
  let pkg: PackageFiles;
  let a: Appliance;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-init-'));
    pkg = await buildStandinPackage(work);
    const ns = await lab.createNamespace('init');
    // veth pairs inside the one namespace stand for red and green (no dummy module here).
    await ns.ip('link', 'add', 'ipp6up0', 'type', 'veth', 'peer', 'name', 'ipp6up1');
    await ns.ip('link', 'add', 'ipp6dn0', 'type', 'veth', 'peer', 'name', 'ipp6dn1');
    await ns.up('ipp6up0');
    await ns.up('ipp6dn0');
    a = await Appliance.create(ns);
    const installed = await a.pakfire('install', pkg.ipfire, pkg.meta);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    await a.write('/etc/igmpproxy.conf', CONFIG);
    // IPFire's real rc (test/fixtures/ipfire), and a logger that writes down what reaches syslog.
    await a.write('/etc/rc.d/init.d/rc', await readFile(path.join(REPO_ROOT, 'test/fixtures/ipfire/rc')), 0o754);
    await a.write(
      '/usr/bin/logger',
      '#!/bin/sh\n# STAND-IN for logger: one line per message\necho "$*" >> /var/log/syslog-standin\n',
      0o755,
    );
  });

  afterAll(async () => {
    await a?.dispose();
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function session(script: string) {
    const result = await a.run(`${STEP_FUNCTION}\n${script}`);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    return { stdout: result.stdout, steps: steps(result.stdout) };
  }

  it('start, status, start again, reload, stop, status: exit codes, pidfile, the exact status lines', async () => {
    const { stdout, steps: s } = await session(`
step ${INIT} status
step ${INIT} start
echo "pidfile=$(cat /var/run/igmpproxy.pid)"
step ${INIT} status
step ${INIT} start
step ${INIT} reload
sleep 0.5
step ${INIT} stop
echo "pidfile-left=$([ -e /var/run/igmpproxy.pid ] && echo yes || echo no)"
step ${INIT} status
echo "--- events"; cat /var/run/igmpproxy-standin.log
`);
    expect(s.map((x) => [x.name, x.code])).toEqual([
      [`${INIT} status`, 0],
      [`${INIT} start`, 0],
      [`${INIT} status`, 0],
      [`${INIT} start`, 0],
      [`${INIT} reload`, 0],
      [`${INIT} stop`, 0],
      [`${INIT} status`, 0],
    ]);
    expect(s[0]!.output).toBe(`${NOT_RUNNING}\n`);
    expect(s[1]!.output).toMatch(/^Starting IGMP proxy\.\.\.\n.*\[.* {2}OK {2}.*\]/);
    const pid = /pidfile=(\d+)/.exec(stdout)?.[1];
    expect(pid).toBeDefined();
    // The first line is what the web UI's Services page reads.
    const statusLine = s[2]!.output.split('\n')[0]!;
    expect(statusLine).toMatch(RUNNING);
    expect(RUNNING.exec(statusLine)?.[1]).toBe(pid);
    expect(/is running/.test(statusLine) && !/is not running/.test(statusLine)).toBe(true);
    // A second start does not start a second daemon.
    expect(s[3]!.output).toContain('Unable to continue: /usr/sbin/igmpproxy is running');
    expect(s[4]!.output).toMatch(/^Reloading IGMP proxy\.\.\.\n.* {2}OK {2}/);
    expect(s[5]!.output).toMatch(/^Stopping IGMP proxy\.\.\.\n.* {2}OK {2}/);
    expect(stdout).toContain('pidfile-left=no');
    expect(s[6]!.output).toBe(`${NOT_RUNNING}\n`);
    // status while running also asks for a fresh status document (SIGUSR1): the web page,
    // running as nobody, gets one this way through addonctrl.
    expect(stdout.split('--- events\n')[1]).toBe('start /etc/igmpproxy.conf\nusr1\nhup\nterm\n');
  });

  it("makes the config from the web page's settings on start and reload; a hand-written file is kept as a backup", async () => {
    const handWritten = '# my own file\nphyint ipp6up0 upstream\nphyint ipp6dn0 downstream\n';
    await a.write('/etc/igmpproxy.conf', handWritten, 0o600);
    // As the page writes it (General::writehash: KEY=value lines, any order).
    await a.write(
      '/var/ipfire/igmpproxy/settings',
      'QUICKLEAVE=on\nMODE=managed\nUPSTREAM=ipp6up0\nPRESET=custom\nALTNETS=217.0.0.0/16,193.158.35.0/24\nDOWNSTREAM=ipp6dn0\n',
    );
    try {
      const { stdout, steps: s } = await session(`
step ${INIT} start
step ${INIT} reload
step ${INIT} stop
echo "--- config"; cat /etc/igmpproxy.conf
echo "--- backups"; ls /etc/ | grep -c '^igmpproxy.conf.bak-'; cat /etc/igmpproxy.conf.bak-*
`);
      expect(s.map((x) => x.code)).toEqual([0, 0, 0]);
      expect(s[0]!.output).toContain('The hand-written /etc/igmpproxy.conf is kept as /etc/igmpproxy.conf.bak-');
      const config = stdout.split('--- config\n')[1]!.split('--- backups\n')[0];
      expect(config).toBe(
        '# igmpproxy-managed-by-web-ui: made by /etc/rc.d/init.d/igmpproxy from /var/ipfire/igmpproxy/settings\n' +
          '# (web UI: Services). Changes here are replaced at the next start or reload;\n' +
          '# to write this file by hand, remove /var/ipfire/igmpproxy/settings first.\n' +
          'quickleave\n' +
          'phyint ipp6up0 upstream ratelimit 0 threshold 1\n' +
          '\taltnet 217.0.0.0/16\n' +
          '\taltnet 193.158.35.0/24\n' +
          'phyint ipp6dn0 downstream ratelimit 0 threshold 1\n',
      );
      // One backup (the reload found a managed file), byte for byte the admin's.
      expect(stdout.split('--- backups\n')[1]).toBe(`1\n${handWritten}`);
    } finally {
      await a.run('rm -f /var/ipfire/igmpproxy/settings /etc/igmpproxy.conf.bak-*');
      await a.write('/etc/igmpproxy.conf', CONFIG);
    }
  });

  /** Starts with the given settings and returns the config the initscript made. */
  async function managedConfigFrom(settings: string): Promise<string> {
    await a.write('/var/ipfire/igmpproxy/settings', settings);
    try {
      const { stdout, steps: s } = await session(`
step ${INIT} start
step ${INIT} stop
echo "--- config"; cat /etc/igmpproxy.conf
`);
      expect(s.map((x) => x.code)).toEqual([0, 0]);
      return stdout.split('--- config\n')[1]!;
    } finally {
      await a.run('rm -f /var/ipfire/igmpproxy/settings /etc/igmpproxy.conf.bak-*');
      await a.write('/etc/igmpproxy.conf', CONFIG);
    }
  }

  const MANAGED_BASE = 'MODE=managed\nUPSTREAM=ipp6up0\nDOWNSTREAM=ipp6dn0\nQUICKLEAVE=on\n';
  const MANAGED_HEADER =
    '# igmpproxy-managed-by-web-ui: made by /etc/rc.d/init.d/igmpproxy from /var/ipfire/igmpproxy/settings\n' +
    '# (web UI: Services). Changes here are replaced at the next start or reload;\n' +
    '# to write this file by hand, remove /var/ipfire/igmpproxy/settings first.\n';
  const MANAGED_PHYINTS =
    'phyint ipp6up0 upstream ratelimit 0 threshold 1\nphyint ipp6dn0 downstream ratelimit 0 threshold 1\n';

  it("writes the page's limits that differ from the daemon's defaults, and only those", async () => {
    const config = await managedConfigFrom(
      `${MANAGED_BASE}MAXGROUPS=4096\nMAXGROUPSPERHOST=512\nMAXSOURCES='128'\nIGMPTTL=any\n`,
    );
    expect(config).toBe(`${MANAGED_HEADER}quickleave\nmaxgroups 4096\nmaxsources 128\nigmpttl any\n${MANAGED_PHYINTS}`);
    // The parser's upper bounds are accepted (and what the daemon's --check passed).
    expect(await managedConfigFrom(`${MANAGED_BASE}MAXGROUPSPERHOST=65536\nMAXSOURCES=1024\nIGMPTTL=1\n`)).toBe(
      `${MANAGED_HEADER}quickleave\nmaxgroupsperhost 65536\nmaxsources 1024\n${MANAGED_PHYINTS}`,
    );
  });

  it('writes no limit line when every limit is at its default: the file C igmpproxy reads, as before', async () => {
    const config = await managedConfigFrom(
      `${MANAGED_BASE}MAXGROUPS=2048\nMAXGROUPSPERHOST=512\nMAXSOURCES=64\nIGMPTTL=1\n`,
    );
    expect(config).toBe(`${MANAGED_HEADER}quickleave\n${MANAGED_PHYINTS}`);
  });

  it.each([
    ['MAXGROUPS=0', 'bad MAXGROUPS in /var/ipfire/igmpproxy/settings (a number from 1 to 65536)'],
    ['MAXGROUPS=65537', 'bad MAXGROUPS in /var/ipfire/igmpproxy/settings (a number from 1 to 65536)'],
    ['MAXGROUPSPERHOST=0512', 'bad MAXGROUPSPERHOST in /var/ipfire/igmpproxy/settings (a number from 1 to 65536)'],
    [
      'MAXGROUPSPERHOST=99999999999999999999',
      'bad MAXGROUPSPERHOST in /var/ipfire/igmpproxy/settings (a number from 1 to 65536)',
    ],
    ['MAXSOURCES=1025', 'bad MAXSOURCES in /var/ipfire/igmpproxy/settings (a number from 1 to 1024)'],
    ["MAXSOURCES='64 igmpttl any'", 'bad MAXSOURCES in /var/ipfire/igmpproxy/settings (a number from 1 to 1024)'],
    ['MAXSOURCES=$(touch /tmp/pwned)', 'bad MAXSOURCES in /var/ipfire/igmpproxy/settings (a number from 1 to 1024)'],
    ['IGMPTTL=64', 'bad IGMPTTL in /var/ipfire/igmpproxy/settings (1 or any)'],
    ['IGMPTTL=$(touch /tmp/pwned)', 'bad IGMPTTL in /var/ipfire/igmpproxy/settings (1 or any)'],
  ])('refuses the limit %s with one line naming the key, and leaves the config as it was', async (limit, line) => {
    await a.write('/etc/igmpproxy.conf', CONFIG);
    await a.write('/var/ipfire/igmpproxy/settings', `${MANAGED_BASE}${limit}\n`);
    try {
      const { stdout, steps: s } = await session(`
step ${INIT} start 2>&1
echo "pwned=$([ -e /tmp/pwned ] && echo yes || echo no) backups=$(ls /etc/ | grep -c '^igmpproxy.conf.bak-')"
`);
      expect(s[0]!.code).toBe(1);
      const lines = s[0]!.output.split('\n');
      expect(lines.filter((l) => l.includes('MAX') || l.includes('IGMPTTL'))).toEqual([line]);
      expect(s[0]!.output).toContain(
        '/var/ipfire/igmpproxy/settings gives no valid configuration; /etc/igmpproxy.conf was not changed.',
      );
      expect(stdout).toContain('pwned=no backups=0');
      expect((await a.read('/etc/igmpproxy.conf')).toString()).toBe(CONFIG);
    } finally {
      await a.run('rm -f /var/ipfire/igmpproxy/settings /tmp/pwned');
    }
  });

  it.each([
    ['a command in a value', 'UPSTREAM=ipp6up0\nALTNETS=10.0.0.0/8$(touch /tmp/pwned)\n'],
    ['a second keyword in an interface', "UPSTREAM='ipp6up0 downstream'\n"],
    ['no downstream', 'UPSTREAM=ipp6up0\nDOWNSTREAM=\n'],
  ])('refuses settings with %s and leaves the config as it was', async (_what, settings) => {
    await a.write('/etc/igmpproxy.conf', CONFIG);
    await a.write('/var/ipfire/igmpproxy/settings', `MODE=managed\nDOWNSTREAM=ipp6dn0\nQUICKLEAVE=off\n${settings}`);
    try {
      const { stdout, steps: s } = await session(`
step ${INIT} start
echo "pwned=$([ -e /tmp/pwned ] && echo yes || echo no) backups=$(ls /etc/ | grep -c '^igmpproxy.conf.bak-')"
`);
      expect(s[0]!.code).toBe(1);
      expect(s[0]!.output).toContain(
        '/var/ipfire/igmpproxy/settings gives no valid configuration; /etc/igmpproxy.conf was not changed.',
      );
      expect(stdout).toContain('pwned=no backups=0');
      expect((await a.read('/etc/igmpproxy.conf')).toString()).toBe(CONFIG);
    } finally {
      await a.run('rm -f /var/ipfire/igmpproxy/settings /tmp/pwned');
    }
  });

  it("start refuses an invalid config and shows the parser's file:line:col errors", async () => {
    await a.write('/etc/igmpproxy.conf', BAD_CONFIG);
    try {
      const { stdout, steps: s } = await session(`
step ${INIT} start
echo "pidfile=$([ -e /var/run/igmpproxy.pid ] && echo yes || echo no)"
echo "events=$(cat /var/run/igmpproxy-standin.log 2>/dev/null)"
step ${INIT} status
`);
      expect(s[0]!.code).toBe(1);
      expect(s[0]!.output).toContain(' FAIL ');
      expect(s[0]!.output).toContain('/etc/igmpproxy.conf has errors, nothing was changed:\n');
      expect(s[0]!.output).toContain(`${PARSER_ERROR}\n`);
      expect(stdout).toContain('pidfile=no');
      expect(stdout).toContain('events=\n');
      expect(s[1]!.output).toBe(`${NOT_RUNNING}\n`);
    } finally {
      await a.write('/etc/igmpproxy.conf', CONFIG);
    }
  });

  it("a broken config at boot: IPFire's rc shows FAIL and the reason, syslog gets it, no banner, no minute of waiting", async () => {
    await a.write('/etc/igmpproxy.conf', BAD_CONFIG);
    try {
      // rc runs every rc3.d/S* link with "start"; its banner waits "read -t 60" on stdin.
      const { stdout, steps: s } = await session(`
rm -f /var/log/syslog-standin
started=$(date +%s)
step bash /etc/rc.d/init.d/rc 3 < /dev/null
echo "seconds=$(( $(date +%s) - started ))"
echo "syslog=$(cat /var/log/syslog-standin)"
echo "pidfile=$([ -e /var/run/igmpproxy.pid ] && echo yes || echo no)"
`);
      expect(s[0]!.code).toBe(0);
      expect(s[0]!.output).toContain('Starting IGMP proxy...');
      expect(s[0]!.output).toContain(' FAIL ');
      expect(s[0]!.output).toContain(PARSER_ERROR);
      expect(s[0]!.output).not.toContain('unforeseen error');
      expect(s[0]!.output).not.toContain('bugzilla');
      expect(stdout).toContain('syslog=-t igmpproxy -p daemon.err -- not started: /etc/igmpproxy.conf has errors');
      expect(Number(/seconds=(\d+)/.exec(stdout)?.[1])).toBeLessThan(30);
      expect(stdout).toContain('pidfile=no');
    } finally {
      await a.write('/etc/igmpproxy.conf', CONFIG);
    }
  });

  it('the same failure by hand (web UI, pakfire, deploy tool) still exits 1; through the boot link it exits 0', async () => {
    await a.write('/etc/igmpproxy.conf', BAD_CONFIG);
    try {
      const { steps: s } = await session(`
step ${INIT} start
step /etc/init.d/igmpproxy start
step /etc/rc.d/rc3.d/S50igmpproxy start
step ${INIT} reload
`);
      expect(s.map((x) => x.code)).toEqual([1, 1, 0, 1]);
      for (const x of s) expect(x.output).toContain(' FAIL ');
    } finally {
      await a.write('/etc/igmpproxy.conf', CONFIG);
    }
  });

  it('reload with an invalid config keeps the running daemon and does not signal it', async () => {
    const { stdout, steps: s } = await session(`
step ${INIT} start
before=$(cat /var/run/igmpproxy.pid)
cp /etc/igmpproxy.conf /tmp/good.conf
printf 'phyint ipp6up0 upstream\\nbogus\\n' > /etc/igmpproxy.conf
step ${INIT} reload
cp /tmp/good.conf /etc/igmpproxy.conf
sleep 0.3
echo "same-pid=$([ "$(cat /var/run/igmpproxy.pid)" = "$before" ] && kill -0 "$before" && echo yes || echo no)"
echo "--- events"; cat /var/run/igmpproxy-standin.log
`);
    expect(s[1]!.code).toBe(1);
    expect(s[1]!.output).toContain(PARSER_ERROR);
    expect(stdout).toContain('same-pid=yes');
    expect(stdout.split('--- events\n')[1]).toBe('start /etc/igmpproxy.conf\n');
  });

  it('a stale pidfile (dead pid, or a pid now used by another program) does not block start', async () => {
    const { stdout, steps: s } = await session(`
sleep 30 & other=$!
echo "$other" > /var/run/igmpproxy.pid
step ${INIT} status
step ${INIT} start
echo "other-alive=$(kill -0 "$other" && echo yes || echo no)"
echo "new-pid=$(cat /var/run/igmpproxy.pid) other=$other"
${INIT} stop > /dev/null
echo 999999 > /var/run/igmpproxy.pid
step ${INIT} status
step ${INIT} start
`);
    // IPFire's statusproc trusts any live pid in the pidfile; start checks /proc/PID/comm.
    expect(s[1]!.code).toBe(0);
    expect(stdout).toContain('other-alive=yes');
    const ids = /new-pid=(\d+) other=(\d+)/.exec(stdout);
    expect(ids?.[1]).not.toBe(ids?.[2]);
    expect(s[2]!.output).toBe(
      `${WARNING}/usr/sbin/igmpproxy is not running but /var/run/igmpproxy.pid exists.${NORMAL}\n`,
    );
    expect(s[3]!.code).toBe(0);
    expect(s[3]!.output).toMatch(/ {2}OK {2}/);
  });

  it('start switches multicast on for the upstream interfaces (IPFire switches it off on red)', async () => {
    const { stdout } = await session(`
ip link set dev ipp6up0 multicast off
ip link set dev ipp6dn0 multicast off
${INIT} start > /dev/null
ip -o link show dev ipp6up0; ip -o link show dev ipp6dn0
`);
    const [up, down] = stdout.trim().split('\n');
    expect(up).toMatch(/<[^>]*MULTICAST[^>]*>/);
    expect(down).not.toMatch(/<[^>]*MULTICAST[^>]*>/);
  });

  it("start applies the firewall rules for the current config when IPFire's IPTV chains exist", async () => {
    const { stdout } = await session(`
iptables -N IPTVINPUT; iptables -A INPUT -j IPTVINPUT; iptables -N IPTVFORWARD; iptables -A FORWARD -j IPTVFORWARD
${INIT} start > /dev/null
iptables -S IGMPPROXY_IN; iptables -S IGMPPROXY_FWD
/usr/lib/igmpproxy/firewall stop
iptables -D INPUT -j IPTVINPUT; iptables -X IPTVINPUT; iptables -D FORWARD -j IPTVFORWARD; iptables -X IPTVFORWARD
`);
    expect(stdout).toBe(
      [
        '-N IGMPPROXY_IN',
        '-A IGMPPROXY_IN -i ipp6up0 -p igmp -j ACCEPT',
        '-A IGMPPROXY_IN -d 224.0.0.0/4 -i ipp6up0 -j ACCEPT',
        hostShareRule('ipp6dn0'),
        '-A IGMPPROXY_IN -i ipp6dn0 -p igmp -j ACCEPT',
        '-N IGMPPROXY_FWD',
        '-A IGMPPROXY_FWD -d 224.0.0.0/4 -i ipp6up0 -o ipp6dn0 -j ACCEPT',
        '',
      ].join('\n'),
    );
  });

  it('red.up hook: with the daemon running, multicast back on and a SIGHUP; without it, nothing', async () => {
    const { stdout, steps: s } = await session(`
ip link set dev ipp6up0 multicast off
step ${HOOK}
echo "idle=$(ip -o link show dev ipp6up0)"
${INIT} start > /dev/null
ip link set dev ipp6up0 multicast off
step ${HOOK}
sleep 0.3
echo "running=$(ip -o link show dev ipp6up0)"
echo "--- events"; cat /var/run/igmpproxy-standin.log
`);
    expect(s.map((x) => x.code)).toEqual([0, 0]);
    expect(/idle=.*/.exec(stdout)?.[0]).not.toMatch(/<[^>]*MULTICAST[^>]*>/);
    expect(/running=.*/.exec(stdout)?.[0]).toMatch(/<[^>]*MULTICAST[^>]*>/);
    expect(stdout.split('--- events\n')[1]).toBe('start /etc/igmpproxy.conf\nhup\n');
  });

  it('restart gives a new daemon; an unknown command prints the usage and fails', async () => {
    const { stdout, steps: s } = await session(`
${INIT} start > /dev/null; echo "first=$(cat /var/run/igmpproxy.pid)"
step ${INIT} restart
echo "second=$(cat /var/run/igmpproxy.pid)"
step ${INIT} bogus
`);
    expect(s[0]!.code).toBe(0);
    const first = /first=(\d+)/.exec(stdout)?.[1];
    const second = /second=(\d+)/.exec(stdout)?.[1];
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(s[1]!.code).toBe(1);
    expect(s[1]!.output).toBe(`Usage: ${INIT} {start|stop|reload|restart|status}\n`);
  });
});
