// The scripts against the REAL daemon binary, when a build left one in dist/<arch>/igmpproxy
// (npm run build); skipped otherwise. The other tests in this directory run the daemon through
// test/fixtures/appliance/igmpproxy-standin (real --check and --list-interfaces, a stand-in
// for running); this file checks that the real binary keeps the running part's contract too:
// --check, --list-interfaces, fork + pidfile, comm "igmpproxy", SIGHUP
// survives, SIGTERM ends it and removes the pidfile.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../build/render.ts';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { Appliance, buildStandinPackage } from './appliance.ts';
import { applianceSupport, PREFIX } from './support.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const BINARY = path.join(REPO_ROOT, 'dist', ARCH, 'igmpproxy');
const hasBinary = existsSync(BINARY);
const support = applianceSupport();

const CONFIG =
  'quickleave\nphyint ipp6up0 upstream\n  altnet 10.0.0.0/8;\nphyint ipp6dn0 downstream\nphyint ipp6$(id) downstream\nphyint ipp6off disabled\n';

describe.skipIf(!hasBinary)(`the real binary's command-line contract (${BINARY})`, () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ipp6-cli-'));
    await writeFile(path.join(dir, 'good.conf'), CONFIG);
    await writeFile(path.join(dir, 'bad.conf'), 'phyint ipp6up0 upstream\nbogus keyword\n');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => spawnSync(BINARY, args, { encoding: 'utf8', cwd: dir, timeout: scaled(30_000) });

  it('--list-interfaces prints one name per line, literally, and nothing else on stdout', () => {
    const up = run('--list-interfaces', 'upstream', 'good.conf');
    expect(up.status).toBe(0);
    expect(up.stdout).toBe('ipp6up0\n');
    const down = run('--list-interfaces', 'downstream', 'good.conf');
    expect(down.status).toBe(0);
    expect(down.stdout).toBe('ipp6dn0\nipp6$(id)\n');
  });

  it('--check and --list-interfaces fail on an invalid file with file:line:col on stderr', () => {
    const check = run('--check', 'bad.conf');
    expect(check.status).not.toBe(0);
    expect(check.stderr).toMatch(/bad\.conf:2:1: .*bogus/);
    const list = run('--list-interfaces', 'upstream', 'bad.conf');
    expect(list.status).not.toBe(0);
    expect(list.stdout).toBe('');
    expect(run('--check', 'good.conf').status).toBe(0);
  });
});

describe.skipIf(!hasBinary || !support.available)('initscript and red.up hook with the real daemon', () => {
  const lab = new NetnsLab(PREFIX);
  let work = '';
  let a: Appliance;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-real-'));
    // Packaging the real 100 MB binary (xz -9) takes minutes: install the stand-in package,
    // then put the real binary in its place.
    const pkg = await buildStandinPackage(work, { arch: ARCH });
    const ns = await lab.createNamespace('real');
    await ns.ip('link', 'add', 'ipp6up0', 'type', 'veth', 'peer', 'name', 'ipp6up1');
    await ns.ip('link', 'add', 'ipp6dn0', 'type', 'veth', 'peer', 'name', 'ipp6dn1');
    for (const name of ['ipp6up0', 'ipp6up1', 'ipp6dn0', 'ipp6dn1']) await ns.up(name);
    await ns.addAddress('ipp6up0', '10.9.0.1/24');
    await ns.addAddress('ipp6dn0', '10.8.0.1/24');
    a = await Appliance.create(ns);
    const installed = await a.pakfire('install', pkg.ipfire, pkg.meta);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    await copyFile(BINARY, a.hostPath('/usr/sbin/igmpproxy'));
    await chmod(a.hostPath('/usr/sbin/igmpproxy'), 0o755);
    await a.write('/etc/igmpproxy.conf', CONFIG.replace('phyint ipp6$(id) downstream\n', ''));
  }, scaled(120_000));

  afterAll(async () => {
    await a?.dispose();
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'start, status, reload, red.up hook, stop',
    async () => {
      const result = await a.run(
        `
ip link set dev ipp6up0 multicast off
/etc/init.d/igmpproxy start; echo "start-rc=$?"
pid=$(cat /var/run/igmpproxy.pid); echo "comm=$(cat /proc/$pid/comm)"
echo "thp=$(sed -n 's/^THP_enabled:[[:space:]]*//p' /proc/$pid/status) anonhuge=$(sed -n 's/^AnonHugePages:[[:space:]]*//p' /proc/$pid/smaps_rollup)"
/etc/init.d/igmpproxy status
/etc/init.d/igmpproxy reload; echo "reload-rc=$?"
ip link set dev ipp6up0 multicast off
/etc/rc.d/init.d/networking/red.up/15-igmpproxy; echo "hook-rc=$?"
sleep 1
echo "alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no) same=$([ "$(cat /var/run/igmpproxy.pid)" = "$pid" ] && echo yes || echo no)"
ip -o link show dev ipp6up0
/etc/init.d/igmpproxy stop; echo "stop-rc=$?"
echo "pidfile-left=$([ -e /var/run/igmpproxy.pid ] && echo yes || echo no) gone=$(kill -0 "$pid" 2>/dev/null && echo no || echo yes)"
/etc/init.d/igmpproxy status
`,
        60_000,
      );
      const out = result.stdout;
      expect(result.code, out + result.stderr).toBe(0);
      expect(out).toContain('start-rc=0');
      expect(out).toContain('comm=igmpproxy');
      // Transparent huge pages off from the daemon's first page (runtime/huge-pages.ts): the
      // VM's kernel has them "always", as IPFire's has.
      expect(out).toContain('thp=0 anonhuge=0 kB');
      expect(out).toMatch(/\x1b\[1;36migmpproxy is running with Process ID\(s\) {2}\d+\.\x1b\[0;39m/);
      expect(out).toContain('reload-rc=0');
      expect(out).toContain('hook-rc=0');
      // C igmpproxy dies on SIGHUP; this one reloads.
      expect(out).toContain('alive=yes same=yes');
      expect(out).toMatch(/ipp6up0@\S+: <[^>]*MULTICAST[^>]*>/);
      expect(out).toContain('stop-rc=0');
      expect(out).toContain('pidfile-left=no gone=yes');
      expect(out).toContain('\x1b[1;36m/usr/sbin/igmpproxy is not running.\x1b[0;39m');
    },
    scaled(60_000),
  );
});
