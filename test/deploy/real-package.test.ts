// The deploy tool with the project's REAL package (build/package.ts, its install.sh,
// update.sh and uninstall.sh) and the package helper's appliance stand-ins
// (test/fixtures/appliance), against a real OpenSSH server. sshd and the deploy CLI both run
// in a network namespace of this test (its 127.0.0.1), so the package's firewall helper
// changes real legacy iptables there only. The daemon inside the package is
// test/fixtures/appliance/igmpproxy-standin: the real daemon (mounted from this repository)
// for --check, --list-interfaces and setup, a stand-in only for running, which needs
// multicast routing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { buildStandinPackage } from '../package/appliance.ts';
import { startAppliance, type Appliance } from './helpers/appliance-sshd.ts';
import { runInNamespace, type CommandResult } from './helpers/run-in-namespace.ts';
import { REPOSITORY_ROOT as REPO } from '../../build/repository.ts';
import { buildStandinLauncher } from '../helpers/standin-launcher.ts';

const HOST_ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const NETNS = `ipd7-${process.pid}-pkg`;
const work = mkdtempSync(path.join(tmpdir(), 'ipd7-realpkg-'));
let appliance: Appliance | undefined;
let netnsMade = false;
const built: Record<string, PackageFiles> = {};

function ns(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('ip', ['netns', 'exec', NETNS, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The deploy CLI, run inside the test's network namespace; bounded to 90 s. */
function deployCli(args: string[]): Promise<CommandResult> {
  return runInNamespace(NETNS, [process.execPath, path.join(REPO, 'scripts/deploy.ts'), ...args], {
    env: { PATH: process.env.PATH, HOME: work },
    timeoutMs: 90_000,
  });
}

beforeAll(async () => {
  expect(spawnSync('ip', ['netns', 'add', NETNS]).status).toBe(0);
  netnsMade = true;
  expect(ns(['ip', 'link', 'set', 'lo', 'up']).status).toBe(0);
  // IPFire's firewall creates these chains at start; the package only hooks into them.
  for (const chain of ['IPTVINPUT', 'IPTVFORWARD']) expect(ns(['iptables-legacy', '-N', chain]).status).toBe(0);
  appliance = await startAppliance('pkg', { netns: NETNS });
  const binary = await buildStandinLauncher(path.join(work, 'launcher'), HOST_ARCH);
  for (const version of ['1.0.0', '1.0.1']) {
    built[version] = await buildStandinPackage(path.join(work, version), { arch: HOST_ARCH, version, binary });
  }
}, 120_000);

afterAll(async () => {
  await appliance?.stop();
  if (netnsMade) spawnSync('ip', ['netns', 'del', NETNS]);
  rmSync(work, { recursive: true, force: true });
});

describe('the real package deployed to a stand-in appliance over real SSH', { timeout: 120_000 }, () => {
  const common = (): string[] => {
    const knownHosts = path.join(work, 'known_hosts');
    if (!existsSync(knownHosts))
      writeFileSync(knownHosts, `[127.0.0.1]:${appliance!.port} ${appliance!.hostKeyLine}\n`);
    return ['-i', appliance!.clientKey, '--known-hosts', knownHosts, `root@127.0.0.1:${appliance!.port}`];
  };
  const pkg = (version: string): string[] => ['--package', built[version]!.ipfire, '--meta', built[version]!.meta];

  it('installs it: pakfire db records, log, running service', async () => {
    const run = await deployCli([...pkg('1.0.0'), ...common()]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/OK\s+installed 1\.0\.0-100/);
    expect(run.stdout).toContain(`package igmpproxy-1.0.0-100.ipfire (igmpproxy 1.0.0-100, ${HOST_ARCH},`);
    expect(readFileSync(appliance!.file('/opt/pakfire/db/installed/meta-igmpproxy'), 'utf8')).toBe(
      readFileSync(built['1.0.0']!.meta, 'utf8'),
    );
    const rootfiles = readFileSync(appliance!.file('/opt/pakfire/db/rootfiles/igmpproxy'), 'utf8');
    expect(rootfiles).toContain('usr/sbin/igmpproxy\n');
    expect(rootfiles).not.toContain('etc/igmpproxy.conf\n');
    expect(appliance!.exists('/usr/sbin/igmpproxy')).toBe(true);
    expect(existsSync(appliance!.file('/etc/igmpproxy.conf'))).toBe(true);
    expect(existsSync(appliance!.file('/opt/pakfire/logs/install-igmpproxy.log'))).toBe(true);
    const status = await deployCli(['--status', ...common()]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain('installed: 1.0.0-100');
    expect(status.stdout).toMatch(/service: running \(.*is running with Process ID\(s\)/);
  });

  it('updates it through its update.sh, keeping the admin configuration', async () => {
    const config =
      '# my own settings\nquickleave\nphyint ppp0 upstream ratelimit 0 threshold 1\n  altnet 217.0.0.0/16;\nphyint green0 downstream\n';
    writeFileSync(appliance!.file('/etc/igmpproxy.conf'), config);
    const run = await deployCli([...pkg('1.0.1'), ...common()]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/OK\s+updated 1\.0\.0-100 -> 1\.0\.1-100/);
    expect(readFileSync(appliance!.file('/opt/pakfire/db/installed/meta-igmpproxy'), 'utf8')).toContain(
      'ProgVersion: 1.0.1',
    );
    expect(readFileSync(appliance!.file('/etc/igmpproxy.conf'), 'utf8')).toBe(config);
    expect(readFileSync(appliance!.file('/opt/pakfire/logs/update-igmpproxy.log'), 'utf8')).toContain('deploy: update');
  });

  it('uninstalls it: files and db records gone, configuration kept', async () => {
    const run = await deployCli(['--uninstall', ...pkg('1.0.1'), ...common()]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/OK\s+uninstalled 1\.0\.1-100/);
    expect(appliance!.exists('/usr/sbin/igmpproxy')).toBe(false);
    expect(existsSync(appliance!.file('/opt/pakfire/db/installed/meta-igmpproxy'))).toBe(false);
    expect(existsSync(appliance!.file('/opt/pakfire/db/rootfiles/igmpproxy'))).toBe(false);
    expect(existsSync(appliance!.file('/etc/igmpproxy.conf'))).toBe(true);
    const status = await deployCli(['--status', ...common()]);
    expect(status.stdout).toContain('installed: no');
  });
});
