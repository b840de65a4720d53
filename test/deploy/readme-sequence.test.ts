// The README's sequence, as a user types it: `bash scripts/dev.sh build`, then
// `npm run deploy -- [--status|--uninstall] --port N root@HOST` with no path options.
// The build is the one `bash scripts/dev.sh test` runs before vitest (its real output in
// dist/x86_64/); the appliance is a real OpenSSH server with the package helper's IPFire
// stand-ins (test/fixtures/appliance) in a network namespace of this test, where the
// package's firewall helper changes real legacy iptables only.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPackageIdentity, REPOSITORY_ROOT } from '../../build/build-config.ts';
import { checkNetnsSupport, NetnsLab, type Netns } from '../../scripts/lab/netns.ts';
import { startAppliance, type Appliance } from './helpers/appliance-sshd.ts';
import { runInNamespace, type CommandResult } from './helpers/run-in-namespace.ts';

const PREFIX = 'ipda';
// What `bash scripts/dev.sh build` leaves on this (x86_64) machine, per build/index.ts.
const BUILT_DIR = path.join(REPOSITORY_ROOT, 'dist', 'x86_64');
const identity = readPackageIdentity();
const PACKAGE_FILE = `${identity.name}-${identity.version}-${identity.release}.ipfire`;
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`README deploy sequence skipped: ${support.reason}`);

describe.skipIf(!support.available)(
  "the README's build, then its deploy commands without path options",
  { timeout: 180_000 },
  () => {
    const lab = new NetnsLab(PREFIX);
    const work = mkdtempSync(path.join(tmpdir(), 'ipda-readme-'));
    let ns: Netns;
    let appliance: Appliance | undefined;
    let knownHosts = '';

    beforeAll(async () => {
      // Not a skip: without the build this test cannot say anything about the README.
      for (const file of ['meta-igmpproxy', PACKAGE_FILE, 'igmpproxy']) {
        if (!existsSync(path.join(BUILT_DIR, file))) {
          throw new Error(
            `${path.join(BUILT_DIR, file)} is missing: run the README's build first (bash scripts/dev.sh build; bash scripts/dev.sh test does)`,
          );
        }
      }
      ns = await lab.createNamespace('readme');
      // IPFire's firewall creates these chains at start; the package only hooks into them.
      for (const chain of ['IPTVINPUT', 'IPTVFORWARD']) await ns.run(['iptables-legacy', '-N', chain]);
      appliance = await startAppliance('ipda-readme', { netns: ns.name, port: 222 });
      knownHosts = path.join(work, 'known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:222 ${appliance.hostKeyLine}\n`);
    }, 120_000);

    afterAll(async () => {
      await appliance?.stop();
      await lab.cleanup();
      rmSync(work, { recursive: true, force: true });
    });

    /** `npm run deploy -- ARGS` in the repository, inside the test's namespace; bounded to 150 s. */
    const npmRunDeploy = (args: string[]): Promise<CommandResult> =>
      runInNamespace(ns.name, ['npm', 'run', 'deploy', '--', ...args], {
        cwd: REPOSITORY_ROOT,
        env: { PATH: process.env.PATH, HOME: work },
        timeoutMs: 150_000,
      });
    // The README's `--port 222 root@ipfire.lan`, plus how this test logs in.
    const target = (): string[] => [
      '-i',
      appliance!.clientKey,
      '--known-hosts',
      knownHosts,
      '--port',
      '222',
      'root@127.0.0.1',
    ];

    it('installs the package the build left in dist/x86_64/', async () => {
      const run = await npmRunDeploy(target());
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(
        `package ${PACKAGE_FILE} (${identity.name} ${identity.version}-${identity.release}, x86_64,`,
      );
      expect(run.stdout).toMatch(
        new RegExp(`OK\\s+installed ${identity.version.replace(/\./g, '\\.')}-${identity.release}`),
      );
      expect(readFileSync(appliance!.file('/opt/pakfire/db/installed/meta-igmpproxy'))).toEqual(
        readFileSync(path.join(BUILT_DIR, 'meta-igmpproxy')),
      );
      // The single binary the build made is the appliance's daemon now.
      expect(
        readFileSync(appliance!.file('/usr/sbin/igmpproxy')).equals(readFileSync(path.join(BUILT_DIR, 'igmpproxy'))),
      ).toBe(true);
    });

    it('shows the status', async () => {
      const run = await npmRunDeploy(['--status', ...target()]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(`installed: ${identity.version}-${identity.release}`);
    });

    it('uninstalls, keeping /etc/igmpproxy.conf', async () => {
      const run = await npmRunDeploy(['--uninstall', ...target()]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(`OK\\s+uninstalled ${identity.version.replace(/\./g, '\\.')}-${identity.release}`),
      );
      expect(appliance!.exists('/usr/sbin/igmpproxy')).toBe(false);
      expect(existsSync(appliance!.file('/opt/pakfire/db/installed/meta-igmpproxy'))).toBe(false);
      expect(existsSync(appliance!.file('/etc/igmpproxy.conf'))).toBe(true);
    });
  },
);
