// Without --package/--meta the deploy takes the package the build made for the appliance's
// architecture (dist/<arch>/, as build/index.ts lays it out). Unit tests of the choice, then
// the deploy against two real OpenSSH appliances in a network namespace of this test: one
// with the machine's own uname (x86_64 here) and one whose uname stand-in says aarch64.
// The packages are the REAL package (build/package.ts) around a compiled launcher of each
// architecture (test/helpers/standin-launcher.ts), installed by their own install.sh into
// the stand-in IPFire tree. The aarch64 launcher cannot run on this
// machine: on the aarch64 appliance the package installs, but its daemon does not start.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtMetaFile, builtPackages } from '../../scripts/deploy/package-choice.ts';
import { elfArchitecture, type LocalPackage } from '../../scripts/deploy/package-info.ts';
import { checkNetnsSupport, NetnsLab, type Netns } from '../../scripts/lab/netns.ts';
import { startAppliance, type Appliance } from './helpers/appliance-sshd.ts';
import { runInNamespace, type CommandResult } from './helpers/run-in-namespace.ts';
import { LAYOUT } from '../../build/render.ts';
import { buildStandinLauncher } from '../helpers/standin-launcher.ts';
import { buildStandinPackage } from '../package/appliance.ts';

const PREFIX = 'ipda';
const DEPLOY_WITH_ROOT = path.resolve(import.meta.dirname, 'helpers/deploy-with-root.ts');
const work = mkdtempSync(path.join(tmpdir(), 'ipda-choice-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The real package for `arch` (its launcher as the daemon binary) into `outDir`. */
async function realPackage(outDir: string, arch: 'x86_64' | 'aarch64', version: string) {
  const binary = await buildStandinLauncher(path.join(work, 'launchers'), arch);
  return buildStandinPackage(outDir, { arch, version, binary });
}

describe('the meta file for an appliance', () => {
  const dist = '/repo/dist';
  const only =
    (...present: string[]) =>
    (file: string): boolean =>
      present.includes(file);

  it('x86_64 -> dist/x86_64/meta-igmpproxy, aarch64 -> dist/aarch64/meta-igmpproxy', () => {
    const both = only('/repo/dist/x86_64/meta-igmpproxy', '/repo/dist/aarch64/meta-igmpproxy');
    expect(builtMetaFile(dist, 'x86_64', 'igmpproxy', both)).toBe('/repo/dist/x86_64/meta-igmpproxy');
    expect(builtMetaFile(dist, 'aarch64', 'igmpproxy', both)).toBe('/repo/dist/aarch64/meta-igmpproxy');
  });

  it('names the missing file and the build command that makes it', () => {
    const x86Only = only('/repo/dist/x86_64/meta-igmpproxy');
    expect(() => builtMetaFile(dist, 'aarch64', 'igmpproxy', x86Only)).toThrow(
      'no aarch64 package built: /repo/dist/aarch64/meta-igmpproxy is missing (build it with: bash scripts/dev.sh build --all)',
    );
    expect(() => builtMetaFile(dist, 'x86_64', 'igmpproxy', only())).toThrow(
      'no x86_64 package built: /repo/dist/x86_64/meta-igmpproxy is missing (build it with: bash scripts/dev.sh build)',
    );
  });

  it.each(['armv7l', '', '../../etc', 'x86_64/../..', 'aarch64\n'])(
    'refuses the appliance architecture %j without making a path of it',
    (arch) => {
      const seen: string[] = [];
      const exists = (file: string): boolean => {
        seen.push(file);
        return true;
      };
      expect(() => builtMetaFile(dist, arch, 'igmpproxy', exists)).toThrow(
        /no package is built for the appliance's architecture .* \(the build makes x86_64 and aarch64; or pass --package and --meta\)/,
      );
      expect(seen).toEqual([]);
    },
  );
});

describe("the build's packages, loaded per architecture", () => {
  it('loads dist/<arch>/ once per architecture and announces each package once', async () => {
    const dist = path.join(work, 'unit', 'dist');
    await realPackage(path.join(dist, 'x86_64'), 'x86_64', '3.0.0');
    await realPackage(path.join(dist, 'aarch64'), 'aarch64', '3.0.1');
    const announced: string[] = [];
    const source = builtPackages(dist, 'igmpproxy', (pkg) => announced.push(`${pkg.arch} ${pkg.meta.version}`));
    const [x86, x86again, arm] = await Promise.all([
      source.forAppliance('x86_64'),
      source.forAppliance('x86_64'),
      source.forAppliance('aarch64'),
    ]);
    expect([x86.arch, x86.packageFile]).toEqual(['x86_64', path.join(dist, 'x86_64', 'igmpproxy-3.0.0-100.ipfire')]);
    expect([arm.arch, arm.packageFile]).toEqual(['aarch64', path.join(dist, 'aarch64', 'igmpproxy-3.0.1-100.ipfire')]);
    expect(x86again).toBe(x86);
    expect(announced.sort()).toEqual(['aarch64 3.0.1', 'x86_64 3.0.0']);
    await expect(source.forAppliance('riscv64')).rejects.toThrow('architecture "riscv64"');
  });

  it('refuses a dist meta file of another package', async () => {
    const dist = path.join(work, 'other', 'dist');
    const built = await realPackage(path.join(dist, 'x86_64'), 'x86_64', '3.0.0');
    writeFileSync(built.meta, readFileSync(built.meta, 'utf8').replace('Name: igmpproxy', 'Name: tor'));
    const announced: LocalPackage[] = [];
    await expect(builtPackages(dist, 'igmpproxy', (pkg) => announced.push(pkg)).forAppliance('x86_64')).rejects.toThrow(
      `${built.meta} is the meta file of "tor", not of igmpproxy`,
    );
    expect(announced).toEqual([]);
  });
});

const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`deploy architecture end-to-end tests skipped: ${support.reason}`);

describe.skipIf(!support.available)(
  'deploy without path options picks the package per appliance (real OpenSSH)',
  { timeout: 120_000 },
  () => {
    const lab = new NetnsLab(PREFIX);
    const repo = path.join(work, 'repo');
    const dist = path.join(repo, 'dist');
    let ns: Netns;
    let x86: Appliance | undefined;
    let arm: Appliance | undefined;
    let knownHosts = '';
    let key = '';

    beforeAll(async () => {
      ns = await lab.createNamespace('deploy');
      // IPFire's firewall creates these chains at start; the package only hooks into them.
      for (const chain of [LAYOUT.iptvInput, LAYOUT.iptvForward]) {
        const made = await ns.exec(['iptables-legacy', '-N', chain]);
        expect(made.code, made.stderr).toBe(0);
      }
      x86 = await startAppliance('ipda-x86', { netns: ns.name, port: 2222 });
      arm = await startAppliance('ipda-arm', { netns: ns.name, port: 2223, machine: 'aarch64' });
      knownHosts = path.join(work, 'known_hosts');
      writeFileSync(knownHosts, `[127.0.0.1]:2222 ${x86.hostKeyLine}\n[127.0.0.1]:2223 ${arm.hostKeyLine}\n`);
      // Both appliances accept the same client key: the x86 one's.
      writeFileSync(path.join(path.dirname(arm.hostKeyPub), 'authorized_keys'), readFileSync(`${x86.clientKey}.pub`));
      key = x86.clientKey;
      // The build's layout (build/index.ts): dist/x86_64/ only, as after `bash scripts/dev.sh build`.
      await realPackage(path.join(dist, 'x86_64'), 'x86_64', '1.0.0');
    }, 120_000);

    afterAll(async () => {
      await x86?.stop();
      await arm?.stop();
      await lab.cleanup();
    });

    /** The deploy command inside the test's namespace, with `repo` as its repository root; bounded to 90 s. */
    const deploy = (args: string[]): Promise<CommandResult> =>
      runInNamespace(ns.name, [process.execPath, DEPLOY_WITH_ROOT, repo, ...args], {
        env: { PATH: process.env.PATH, HOME: work },
        timeoutMs: 90_000,
      });
    const login = (): string[] => ['-i', key, '--known-hosts', knownHosts];
    const both = ['root@127.0.0.1:2222', 'root@127.0.0.1:2223'];
    /** The architecture of the installed daemon binary (the package's one native file). */
    const installedArch = (appliance: Appliance): string | null => {
      const daemon = appliance.file(LAYOUT.daemon);
      return existsSync(daemon) ? elfArchitecture(readFileSync(daemon)) : null;
    };

    it('installs x86_64 from dist/x86_64/ and, with no aarch64 build, says which file and command are missing', async () => {
      const run = await deploy([...login(), ...both]);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/root@127\.0\.0\.1:2222\s+OK\s+installed 1\.0\.0-100/);
      const missing = `no aarch64 package built: ${dist}/aarch64/meta-igmpproxy is missing (build it with: bash scripts/dev.sh build --all)`;
      expect(run.stderr).toContain(`[root@127.0.0.1:2223] error: ${missing}\n`);
      expect(run.stdout).toMatch(
        new RegExp(`root@127\\.0\\.0\\.1:2223\\s+FAILED\\s+${missing.replace(/[.()]/g, '\\$&')}`),
      );
      expect(installedArch(x86!)).toBe('x86_64');
      // The package's initscript started its daemon (bounded wait: 5 s).
      const running = `for _ in $(seq 50); do pid=$(head -n 1 ${LAYOUT.pidfile} 2>/dev/null); [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = ${LAYOUT.processName} ] && exit 0; sleep 0.1; done; exit 1`;
      expect(x86!.shell(running).status).toBe(0);
      expect(existsSync(arm!.file('/opt/pakfire/db/installed/meta-igmpproxy'))).toBe(false);
    });

    it('installs aarch64 from dist/aarch64/ once the build made it, each appliance its own', async () => {
      await realPackage(path.join(dist, 'aarch64'), 'aarch64', '1.0.1');
      const run = await deploy([...login(), ...both]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/root@127\.0\.0\.1:2222\s+OK\s+updated 1\.0\.0-100 -> 1\.0\.0-100/);
      expect(run.stdout).toMatch(/root@127\.0\.0\.1:2223\s+OK\s+installed 1\.0\.1-100/);
      expect(run.stdout).toContain('package igmpproxy-1.0.1-100.ipfire (igmpproxy 1.0.1-100, aarch64,');
      expect(installedArch(arm!)).toBe('aarch64');
      expect(readFileSync(arm!.file('/opt/pakfire/db/installed/meta-igmpproxy'), 'utf8')).toBe(
        readFileSync(path.join(dist, 'aarch64', 'meta-igmpproxy'), 'utf8'),
      );
    });

    it('takes --meta as given, whatever the appliance (and its check still refuses a foreign architecture)', async () => {
      const run = await deploy([
        ...login(),
        '--meta',
        path.join(dist, 'x86_64', 'meta-igmpproxy'),
        'root@127.0.0.1:2223',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stderr).toContain('error: the package is built for x86_64 but the appliance is aarch64');
      expect(installedArch(arm!)).toBe('aarch64');
    });

    it("uninstalls with the package of each appliance's architecture", async () => {
      const run = await deploy(['--uninstall', ...login(), ...both]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/root@127\.0\.0\.1:2222\s+OK\s+uninstalled 1\.0\.0-100/);
      expect(run.stdout).toMatch(/root@127\.0\.0\.1:2223\s+OK\s+uninstalled 1\.0\.1-100/);
    });
  },
);
