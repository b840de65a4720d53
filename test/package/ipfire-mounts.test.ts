// The stand-in appliances mount /run, /dev/shm and /var/lock exactly as IPFire's own boot
// scripts do (vendored in test/fixtures/ipfire/: mountkernfs, udev, mounttmpfs) and have
// /var/run -> ../run (lfs/stage2): checked in the kernel's mount table inside each stand-in,
// not in the scripts that set them up, so a stand-in that drifts from IPFire fails here.
// A binary copied to /run must not run there (noexec, as on IPFire); on /var/lock it does.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { startAppliance, type Appliance as SshdAppliance } from '../deploy/helpers/appliance-sshd.ts';
import { Appliance } from './appliance.ts';
import {
  ipfireRuntimeMounts,
  ipfireVarRunLink,
  mountDifferences,
  parseMountInfo,
  tmpfsMountsIn,
  type IpfireMount,
} from './ipfire-mounts.ts';
import { applianceSupport } from './support.ts';

const support = applianceSupport();
if (!support.available) console.warn(`IPFire mount checks of the stand-ins skipped: ${support.reason}`);

describe('IPFire run-time mounts read from its vendored boot scripts', () => {
  it('finds /run, /dev/shm and /var/lock with the options IPFire uses', () => {
    const byTarget = Object.fromEntries(ipfireRuntimeMounts().map((mount) => [mount.target, mount]));
    expect(byTarget['/run']).toEqual({
      target: '/run',
      fstype: 'tmpfs',
      options: 'nosuid,nodev,noexec,mode=755,size=8M',
      script: 'mountkernfs',
    });
    expect(byTarget['/dev/shm']).toEqual({
      target: '/dev/shm',
      fstype: 'tmpfs',
      options: 'nosuid,nodev,noexec',
      script: 'udev',
    });
    expect(byTarget['/var/lock']).toEqual({
      target: '/var/lock',
      fstype: 'tmpfs',
      options: 'nosuid,nodev,size=8M',
      script: 'mounttmpfs',
    });
    expect(ipfireVarRunLink()).toBe('../run');
  });

  it('refuses options that would not be safe in a shell line', () => {
    expect(() => tmpfsMountsIn('mount -t tmpfs -o "size=1M;reboot" x /run\n', 'evil')).toThrow(
      /unexpected mount options/,
    );
  });

  it("reports each way a mount can differ from IPFire's line", () => {
    const run: IpfireMount = {
      target: '/run',
      fstype: 'tmpfs',
      options: 'nosuid,nodev,noexec,mode=755,size=8M',
      script: 'mountkernfs',
    };
    const line = (mountOptions: string, superOptions: string): string =>
      `30 20 0:40 / /run ${mountOptions} shared:5 - tmpfs tmpfs ${superOptions}`;
    expect(
      mountDifferences(run, parseMountInfo(line('rw,nosuid,nodev,noexec,relatime', 'rw,size=8192k,mode=755'))),
    ).toEqual([]);
    // What the stand-in mounted before: exec-able, no size limit.
    expect(mountDifferences(run, parseMountInfo(line('rw,relatime', 'rw,mode=755')))).toEqual([
      '/run: no nosuid, IPFire (mountkernfs): nosuid',
      '/run: no nodev, IPFire (mountkernfs): nodev',
      '/run: no noexec, IPFire (mountkernfs): noexec',
      '/run: rw,mode=755, IPFire (mountkernfs): size=8192k',
    ]);
    expect(mountDifferences(run, parseMountInfo(line('rw,nosuid,nodev,noexec', 'rw,size=8192k')))).toEqual([
      '/run: mode=1777, IPFire (mountkernfs): mode=755',
    ]);
    const lock: IpfireMount = {
      target: '/var/lock',
      fstype: 'tmpfs',
      options: 'nosuid,nodev,size=8M',
      script: 'mounttmpfs',
    };
    expect(
      mountDifferences(
        lock,
        parseMountInfo('31 20 0:41 / /var/lock rw,nosuid,nodev,noexec - tmpfs tmpfs rw,size=8192k\n'),
      ),
    ).toEqual(['/var/lock: noexec, IPFire (mounttmpfs): no noexec']);
    expect(mountDifferences(lock, [])).toEqual(['/var/lock: not a mount point']);
  });
});

/** Inside a root: where /var/run points, and whether a binary runs from each tmpfs. */
const PROBE = `
echo "var-run=$(readlink /var/run)"
for dir in /run /dev/shm /var/lock; do
  cp /usr/bin/true "$dir/ipmt-probe" && "$dir/ipmt-probe" 2>/dev/null && echo "exec $dir=yes" || echo "exec $dir=no"
  rm -f "$dir/ipmt-probe"
done
`;

/** mountinfo: of a process in the stand-in's mount namespace; root: the stand-in's / in it. */
function checkStandin(mountinfo: string, root: string, probeOutput: string): void {
  const table = parseMountInfo(mountinfo);
  expect(
    ipfireRuntimeMounts().flatMap((mount) => mountDifferences(mount, table, path.join(root, mount.target))),
    mountinfo,
  ).toEqual([]);
  expect(probeOutput).toContain(`var-run=${ipfireVarRunLink()}\n`);
  expect(probeOutput).toContain('exec /run=no\n');
  expect(probeOutput).toContain('exec /dev/shm=no\n');
  expect(probeOutput).toContain('exec /var/lock=yes\n');
}

describe.skipIf(!support.available)('the stand-in appliances mount like IPFire', () => {
  const lab = new NetnsLab('ipmt');
  afterAll(async () => {
    await lab.cleanup();
  });

  it(
    "the package tests' throwaway root (test/package/appliance.ts)",
    async () => {
      const appliance = await Appliance.create(await lab.createNamespace('pkg'));
      try {
        const result = await appliance.run(`${PROBE}\necho "--- mountinfo"; cat /proc/self/mountinfo`, scaled(30_000));
        expect(result.code, result.stderr).toBe(0);
        const [probe, mountinfo] = result.stdout.split('--- mountinfo\n');
        checkStandin(mountinfo ?? '', '/', probe!);
      } finally {
        await appliance.dispose();
      }
    },
    scaled(60_000),
  );

  it(
    "the deploy tests' appliance behind a real sshd (test/deploy/helpers/appliance-sshd.ts)",
    async () => {
      const ns = await lab.createNamespace('sshd');
      let appliance: SshdAppliance | undefined;
      try {
        appliance = await startAppliance('ipmt', { netns: ns.name });
        // The probe runs in sshd's mount namespace, chrooted like its sessions; the mount table
        // is sshd's own (its paths are the appliance root's on this machine).
        const result = spawnSync(
          'nsenter',
          ['-t', String(appliance.sshdPid), '-m', '--', 'chroot', appliance.root, '/bin/bash', '-c', PROBE],
          { encoding: 'utf8', timeout: scaled(30_000) },
        );
        expect(result.status, result.stderr).toBe(0);
        checkStandin(readFileSync(`/proc/${appliance.sshdPid}/mountinfo`, 'utf8'), appliance.root, result.stdout);
      } finally {
        await appliance?.stop();
      }
    },
    scaled(60_000),
  );
});
