// The initscript's `start` with the REAL binary (dist/<arch>/igmpproxy; skipped without a
// build) when the daemon cannot start: it prints the daemon's one line and exits non-zero.
// In the throwaway IPFire-like root of test/package/appliance.ts, with /run and /var/run
// mounted noexec as IPFire mounts /run (src/initscripts/system/mountkernfs). The failure is made the same on every kernel: root
// without CAP_NET_RAW/CAP_NET_ADMIN, so socket(SOCK_RAW) fails with EPERM — which also
// proves the shim loaded (that step comes before), noexec /run notwithstanding.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../build/render.ts';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { Appliance, buildStandinPackage } from '../package/appliance.ts';
import { applianceSupport } from '../package/support.ts';

const ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const BINARY = path.join(REPO_ROOT, 'dist', ARCH, 'igmpproxy');
const support = applianceSupport();
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
const skipReason = !existsSync(BINARY)
  ? `no ${BINARY} (npm run build)`
  : !support.available
    ? support.reason
    : !hasSetpriv
      ? 'setpriv (util-linux) missing'
      : undefined;
if (skipReason) console.warn(`initscript start-up failure test skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('initscript start when the daemon cannot start', () => {
  const lab = new NetnsLab('ipsm');
  let work = '';
  let appliance: Appliance;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ipsm-initscript-'));
    const pkg = await buildStandinPackage(work, { arch: ARCH });
    const ns = await lab.createNamespace('init');
    await ns.ip('link', 'add', 'ipsmup0', 'type', 'veth', 'peer', 'name', 'ipsmup1');
    await ns.ip('link', 'add', 'ipsmdn0', 'type', 'veth', 'peer', 'name', 'ipsmdn1');
    for (const name of ['ipsmup0', 'ipsmup1', 'ipsmdn0', 'ipsmdn1']) await ns.up(name);
    appliance = await Appliance.create(ns);
    const installed = await appliance.pakfire('install', pkg.ipfire, pkg.meta);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    await copyFile(BINARY, appliance.hostPath('/usr/sbin/igmpproxy'));
    await chmod(appliance.hostPath('/usr/sbin/igmpproxy'), 0o755);
    await appliance.write('/etc/igmpproxy.conf', 'phyint ipsmup0 upstream\nphyint ipsmdn0 downstream\n');
  }, scaled(120_000));

  afterAll(async () => {
    await appliance?.dispose();
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'prints the one line naming the cause and exits non-zero; no pidfile, no daemon',
    async () => {
      const result = await appliance.run(
        `
mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=8M tmpfs /run
mount -o remount,nosuid,nodev,noexec /var/run
setpriv --bounding-set -net_raw,-net_admin /etc/init.d/igmpproxy start; echo "start-rc=$?"
echo "pidfile=$([ -e /var/run/igmpproxy.pid ] && echo yes || echo no)"
`,
        scaled(60_000),
      );
      const out = result.stdout + result.stderr;
      expect(out).toMatch(/start-rc=[1-9]/);
      expect(out).toContain('pidfile=no');
      const lines = out.split('\n').filter((line) => line.startsWith('igmpproxy: '));
      expect(lines, out).toEqual([
        'igmpproxy: cannot open the raw IGMP socket (socket: EPERM): run igmpproxy as root with CAP_NET_RAW and CAP_NET_ADMIN',
      ]);
      expect(out).not.toMatch(/native part|map segment|build it with/);
    },
    scaled(60_000),
  );
});
