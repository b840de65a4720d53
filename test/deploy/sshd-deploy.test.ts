// End-to-end: the deploy tool against a REAL OpenSSH server (Debian openssh-server) serving
// a throwaway appliance root through ChrootDirectory (see helpers/appliance-sshd.ts).
//
// Installs, updates and uninstalls deploy the project's REAL package (build/package.ts: its
// rendered install.sh, update.sh, uninstall.sh and initscript run in the appliance) into the
// stand-in IPFire tree (test/helpers/ipfire-root.ts: real legacy
// iptables, IPFire's rc functions and run-time mounts), served by sshd in a network namespace
// of this test, where the deploy CLI runs too. The package's only native file,
// /usr/sbin/igmpproxy, is a compiled launcher of the machine's architecture
// (test/helpers/standin-launcher.ts) for the stand-in daemon (the real daemon but for
// running, which needs multicast routing). What the build cannot make is derived from the
// real package and said so: a failing update.sh and a failing install.sh are the real
// package with that script edited (helpers/derived-package.ts); the large package is the
// real one around a launcher padded with random bytes. The host-key and credential tests
// need no package; they use a third appliance of the same tree. Only the tests that reach no
// appliance (usage errors, a silent server) run the deploy on the machine itself.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { LAYOUT } from '../../build/render.ts';
import { REPOSITORY_ROOT as REPO } from '../../build/repository.ts';
import { main, type DeployIo } from '../../scripts/deploy/main.ts';
import { shellCommand } from '../../scripts/deploy/quote.ts';
import { NetnsLab, type Netns } from '../../scripts/lab/netns.ts';
import { buildStandinLauncher } from '../helpers/standin-launcher.ts';
import { buildStandinPackage } from '../package/appliance.ts';
import { startAppliance, type Appliance } from './helpers/appliance-sshd.ts';
import { packageMember, withEditedScript } from './helpers/derived-package.ts';
import { runInNamespace } from './helpers/run-in-namespace.ts';
import { sampleStatus } from './helpers/sample-status.ts';

const HOST_ARCH: 'x86_64' | 'aarch64' = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const OTHER_ARCH: 'x86_64' | 'aarch64' = HOST_ARCH === 'x86_64' ? 'aarch64' : 'x86_64';
const MB = 1_048_576;
const work = mkdtempSync(path.join(tmpdir(), 'dr-deploy-'));
const lab = new NetnsLab('dr');
let ns: Netns | undefined;
/** Real package, in `ns` on 127.0.0.1:2222 (c: 2223). */
let a: Appliance | undefined;
let c: Appliance | undefined;
/** No package: the host-key and credential tests (offers passwords), on 2224. */
let b: Appliance | undefined;
let agentPid: number | null = null;
const packages: Record<string, PackageFiles> = {};

interface Run {
  code: number;
  out: string[];
  err: string[];
  all: string;
}

const splitLines = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/** The deploy CLI inside the test's network namespace, as a user runs it; bounded to 90 s. */
async function deployInNs(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const result = await runInNamespace(ns!.name, [process.execPath, path.join(REPO, 'scripts/deploy.ts'), ...args], {
    env: { PATH: process.env.PATH, HOME: work, ...env },
    timeoutMs: 90_000,
  });
  return {
    code: result.code ?? -1,
    out: splitLines(result.stdout),
    err: splitLines(result.stderr),
    all: result.stdout + result.stderr,
  };
}

/** The deploy in this process (machine's network namespace), with test hooks. */
async function deploy(args: string[], extra: Partial<DeployIo> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    terminal: null,
    promptHidden: null,
    env: {},
    repoRoot: REPO,
    now: () => Date.now(),
    ...extra,
  });
  return { code, out, err, all: [...out, ...err].join('\n') };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(REPO, 'scripts/deploy.ts'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: work, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fingerprint(pubFile: string): string {
  return (
    spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).stdout.split(' ')[1] ?? ''
  );
}

function knownHostsWith(name: string, lines: string[]): string {
  const file = path.join(work, name);
  writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
  return file;
}

function pkgArgs(pkg: PackageFiles): string[] {
  return ['--package', pkg.ipfire, '--meta', pkg.meta];
}

function installedMeta(appliance: Appliance): string | null {
  const file = appliance.file('/opt/pakfire/db/installed/meta-igmpproxy');
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

/**
 * The daemon's pid as the appliance sees it (its PID namespace) when the pidfile names a live
 * process called like the daemon; `wait`: up to 5 s for one (install.sh starts it in the background).
 */
function daemonPid(appliance: Appliance, wait = true): number | null {
  const check = `pid=$(head -n 1 ${LAYOUT.pidfile} 2>/dev/null); [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = ${LAYOUT.processName} ] && echo "$pid"`;
  const script = wait ? `for _ in $(seq 50); do ${check} && exit 0; sleep 0.1; done; exit 1` : check;
  const result = appliance.shell(script);
  return result.status === 0 ? Number(result.stdout.trim()) : null;
}

/** Bytes of the package upload in progress on the appliance (its .part file), 0 when none. */
function partialUploadBytes(appliance: Appliance): number {
  const staging = appliance.file('/var/tmp');
  let bytes = 0;
  try {
    for (const dir of readdirSync(staging).filter((name) => name.startsWith('igmpproxy-deploy.'))) {
      for (const file of readdirSync(path.join(staging, dir)).filter((name) => name.endsWith('.ipfire.part'))) {
        bytes = Math.max(bytes, statSync(path.join(staging, dir, file)).size);
      }
    }
  } catch {
    // the staging directory came or went meanwhile
  }
  return bytes;
}

beforeAll(async () => {
  ns = await lab.createNamespace('deploy');
  // IPFire's firewall creates these chains at start; the package only hooks into them.
  for (const chain of [LAYOUT.iptvInput, LAYOUT.iptvForward]) {
    const made = await ns.exec(['iptables-legacy', '-N', chain]);
    expect(made.code, made.stderr).toBe(0);
  }
  a = await startAppliance('dr-a', { netns: ns.name, port: 2222 });
  c = await startAppliance('dr-c', { netns: ns.name, port: 2223 });
  b = await startAppliance('dr-b', { netns: ns.name, port: 2224, passwords: true });
  const launcher = await buildStandinLauncher(path.join(work, 'launcher'), HOST_ARCH);
  const build = (dir: string, version: string, binary = launcher, arch = HOST_ARCH): Promise<PackageFiles> =>
    buildStandinPackage(path.join(work, dir), { arch, version, binary });
  packages.v100 = await build('v100', '1.0.0');
  packages.v110 = await build('v110', '1.1.0');
  packages.failingUpdate = withEditedScript(
    await build('failing-update-source', '1.1.5'),
    path.join(work, 'failing-update'),
    'update.sh',
    (text) => text.replace(/^(#!.*\n)/, '$1echo "update.sh: simulated failure before any change"\nexit 3\n'),
  );
  packages.failingInstall = withEditedScript(
    await build('failing-install-source', '0.9.0'),
    path.join(work, 'failing-install'),
    'install.sh',
    // It also says whether the deploy holds pakfire's lock while it runs, as pakfire does.
    (text) =>
      text.replace(
        /\nexit 0\n$/,
        '\n[ -e /tmp/pakfire_lock ] && echo "install.sh: pakfire\'s lock is held"\necho "install.sh: simulated failure after its work"\nexit 4\n',
      ),
  );
  // The launcher still runs with random bytes after it: an upload that takes a while.
  const padded = path.join(work, 'padded-launcher');
  writeFileSync(padded, Buffer.concat([readFileSync(launcher), randomBytes(16 * MB)]), { mode: 0o755 });
  packages.large = await build('large', '1.2.0', padded);
  const otherLauncher = await buildStandinLauncher(path.join(work, 'launcher'), OTHER_ARCH);
  packages.foreign = await build('foreign', '1.2.5', otherLauncher, OTHER_ARCH);
  // The real package under a hostile local name; its meta file names the plain one.
  const plain = await build('hostile-source', '1.3.0');
  const hostileDir = path.join(work, `dir with 'quote' $(touch /tmp/dr-HACKED-dir)`);
  mkdirSync(hostileDir, { recursive: true });
  // No '/' possible in a file name: the injected commands would create files in the remote cwd.
  const hostileName = `igmp proxy '$(touch dr-HACKED1)' \`touch dr-HACKED2\`; touch dr-HACKED3 "dq" \n next line.ipfire`;
  packages.hostile = { ipfire: path.join(hostileDir, hostileName), meta: path.join(hostileDir, 'meta-igmpproxy') };
  copyFileSync(plain.ipfire, packages.hostile.ipfire);
  copyFileSync(plain.meta, packages.hostile.meta);
}, 180_000);

afterAll(async () => {
  if (agentPid !== null) {
    try {
      process.kill(agentPid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  await a?.stop();
  await c?.stop();
  await b?.stop();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('deploy of the real package against a real OpenSSH server', { timeout: 60_000 }, () => {
  let knownHosts = '';
  const target = (): string => `root@127.0.0.1:${a!.port}`;
  const common = (): string[] => ['-i', a!.clientKey, '--known-hosts', knownHosts, target()];

  it('refuses an unknown host, showing its SHA256 fingerprint', async () => {
    knownHosts = knownHostsWith('known_hosts_a', []);
    const run = await deployInNs(['--status', ...common()]);
    expect(run.code).toBe(1);
    expect(run.all).toContain(`unknown host key for [127.0.0.1]:${a!.port}: ssh-ed25519 ${fingerprint(a!.hostKeyPub)}`);
    expect(run.all).toContain('--accept-new');
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
  });

  it('records the key with --accept-new and accepts it afterwards without the flag', async () => {
    const first = await deployInNs(['--status', '--accept-new', ...common()]);
    expect(first.code, first.all).toBe(0);
    expect(first.all).toContain(`recorded new host key ssh-ed25519 ${fingerprint(a!.hostKeyPub)}`);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${a!.port} ${a!.hostKeyLine}\n`);
    const again = await deployInNs(['--status', ...common()]);
    expect(again.code, again.all).toBe(0);
    expect(again.all).toContain('installed: no');
    expect(again.all).toContain('service: missing');
    expect(readFileSync(knownHosts, 'utf8').split('\n')).toHaveLength(2);
  });

  it('installs: its install.sh runs, files land, db entries recorded, install log written, service started', async () => {
    const run = await deployInNs([...pkgArgs(packages.v100!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.all).toContain(`package igmpproxy-1.0.0-100.ipfire (igmpproxy 1.0.0-100, ${HOST_ARCH},`);
    expect(run.all).toContain('installing igmpproxy 1.0.0-100');
    expect(run.all).toContain('uploaded and verified');
    expect(run.out.at(-1)).toMatch(/OK\s+installed 1\.0\.0-100$/);
    expect(readFileSync(a!.file('/opt/pakfire/db/rootfiles/igmpproxy'), 'utf8')).toBe(
      packageMember(packages.v100!.ipfire, 'ROOTFILES'),
    );
    expect(a!.exists(LAYOUT.daemon)).toBe(true);
    expect(existsSync(a!.file(LAYOUT.initscript))).toBe(true);
    // The boot links the package's install.sh makes (the layout's numbers).
    for (const link of [`rc3.d/S${LAYOUT.startNumber}`, `rc0.d/K${LAYOUT.stopNumber}`, `rc6.d/K${LAYOUT.stopNumber}`]) {
      expect(readlinkSync(a!.file(`/etc/rc.d/${link}${LAYOUT.name}`)), link).toBe(`../init.d/${LAYOUT.name}`);
    }
    expect(installedMeta(a!)).toBe(readFileSync(packages.v100!.meta, 'utf8'));
    const log = readFileSync(a!.file('/opt/pakfire/logs/install-igmpproxy.log'), 'utf8');
    expect(log).toContain('Extracting files...');
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    expect(readdirSync(a!.file('/var/tmp')).filter((name) => name.startsWith('igmpproxy-deploy.'))).toEqual([]);
    expect(daemonPid(a!)).not.toBeNull();
    expect(existsSync(a!.file(LAYOUT.config))).toBe(true);
  });

  it('shows the status: service, version, firewall hooks (real iptables), the daemon signalled', async () => {
    // The stand-in daemon cannot write a status file (that needs the running daemon, hence
    // multicast routing): a sample one is planted, which the tool shows as not refreshed.
    writeFileSync(a!.file('/tmp/dr-status.json'), `${JSON.stringify(sampleStatus('1.0.0'), null, 2)}\n`);
    const planted = a!.shell(`mv /tmp/dr-status.json ${LAYOUT.statusFile} && : > /var/run/igmpproxy-standin.log`);
    expect(planted.status, planted.stderr).toBe(0);
    const run = await deployInNs(['--status', ...common()]);
    expect(run.code, run.all).toBe(0);
    const pid = daemonPid(a!);
    expect(run.all).toContain(`service: running (igmpproxy is running with Process ID(s) ${pid}.)`);
    expect(run.all).toContain('installed: 1.0.0-100');
    expect(run.all).toContain('the daemon did not refresh its status file; showing the last one');
    expect(run.all).toContain('239.35.10.4 on green0: 1 host(s) 192.168.0.100');
    expect(run.all).toContain('firewall IPTVINPUT -> IGMPPROXY_IN: in place');
    expect(run.all).toContain('firewall IPTVFORWARD -> IGMPPROXY_FWD: in place');
    // The live-process check passed and the signal reached the daemon.
    expect(a!.shell('cat /var/run/igmpproxy-standin.log').stdout).toContain('usr1');
  });

  it('updates through its update.sh when the package is installed, keeping the admin configuration', async () => {
    const config =
      '# edited by the admin\nquickleave\nphyint ppp0 upstream ratelimit 0 threshold 1\n  altnet 217.0.0.0/16;\nphyint green0 downstream\n';
    writeFileSync(a!.file(LAYOUT.config), config);
    const before = daemonPid(a!);
    expect(before).not.toBeNull();
    const run = await deployInNs([...pkgArgs(packages.v110!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.all).toContain('updating igmpproxy 1.0.0-100 to 1.1.0-100');
    expect(run.all).toContain('running update.sh');
    expect(run.out.at(-1)).toMatch(/OK\s+updated 1\.0\.0-100 -> 1\.1\.0-100$/);
    expect(readFileSync(a!.file('/opt/pakfire/logs/update-igmpproxy.log'), 'utf8')).toContain(
      'deploy: update igmpproxy-1.1.0-100.ipfire',
    );
    expect(installedMeta(a!)).toBe(readFileSync(packages.v110!.meta, 'utf8'));
    expect(readFileSync(a!.file(LAYOUT.config), 'utf8')).toBe(config);
    const after = daemonPid(a!);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });

  it('a failing update.sh: log tail shown, exit 1, the installed version stays recorded and running', async () => {
    const pid = daemonPid(a!);
    expect(pid).not.toBeNull();
    const run = await deployInNs([...pkgArgs(packages.failingUpdate!), ...common()]);
    expect(run.code).toBe(1);
    expect(run.all).toContain('update.sh: simulated failure before any change');
    expect(run.all).toContain('the package script failed with exit 3; see /opt/pakfire/logs/update-igmpproxy.log');
    expect(run.all).not.toMatch(/\n\s+at /);
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(daemonPid(a!, false)).toBe(pid);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
  });

  it('a connection lost mid-upload leaves nothing half-installed', async () => {
    const pid = daemonPid(a!);
    let finished = false;
    const running = deployInNs([...pkgArgs(packages.large!), ...common()]).finally(() => {
      finished = true;
    });
    let killed = 0;
    // Bounded: 6000 polls of 5 ms at most.
    for (let poll = 0; poll < 6000 && killed === 0 && !finished; poll++) {
      if (partialUploadBytes(a!) > 2 * MB) killed = a!.killSessions();
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const run = await running;
    expect(killed).toBeGreaterThan(0);
    expect(run.code).toBe(1);
    expect(run.out.at(-1)).toMatch(/FAILED\s+connection lost/);
    expect(run.all).not.toContain('running update.sh');
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(daemonPid(a!, false)).toBe(pid);
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    // The appliance still works for the next deploy.
    const status = await deployInNs(['--status', ...common()]);
    expect(status.code, status.all).toBe(0);
    expect(status.all).toContain('installed: 1.1.0-100');
  });

  it('refuses when /opt/pakfire/tmp is too small (a tiny tmpfs mounted there)', async () => {
    const tmpDir = `${a!.root}/opt/pakfire/tmp`;
    const mounted = a!.inNamespace(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'dr-full', tmpDir]);
    expect(mounted.status, mounted.stderr).toBe(0);
    try {
      const run = await deployInNs([...pkgArgs(packages.large!), ...common()]);
      expect(run.code).toBe(1);
      expect(run.out.at(-1)).toMatch(
        /FAILED\s+not enough free space in \/opt\/pakfire\/tmp: 0\.1 MB free, [0-9.]+ MB needed/,
      );
      expect(run.all).not.toContain('upload');
    } finally {
      expect(a!.inNamespace(['umount', tmpDir]).status).toBe(0);
    }
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
  });

  it('refuses while pakfire holds its lock, and leaves that lock alone', async () => {
    writeFileSync(a!.file('/tmp/pakfire_lock'), '');
    try {
      const run = await deployInNs([...pkgArgs(packages.v100!), ...common()]);
      expect(run.code).toBe(1);
      expect(run.out.at(-1)).toMatch(/FAILED\s+pakfire is running \(\/tmp\/pakfire_lock exists\)/);
      expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(true);
    } finally {
      rmSync(a!.file('/tmp/pakfire_lock'));
    }
  });

  it('refuses a package built for another architecture', async () => {
    const run = await deployInNs([...pkgArgs(packages.foreign!), ...common()]);
    expect(run.code).toBe(1);
    expect(run.out.at(-1)).toContain(`the package is built for ${OTHER_ARCH} but the appliance is ${HOST_ARCH}`);
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
  });

  it('quotes hostile local file names: installs, and no injected command ran', async () => {
    const run = await deployInNs([...pkgArgs(packages.hostile!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.out.at(-1)).toMatch(/OK\s+updated 1\.1\.0-100 -> 1\.3\.0-100$/);
    expect(installedMeta(a!)).toContain('ProgVersion: 1.3.0');
    const found = spawnSync(
      'find',
      [a!.root, a!.usrUpper, '/tmp', '-xdev', '-name', '*dr-HACKED*', '-not', '-path', `${work}/*`],
      { encoding: 'utf8' },
    );
    expect(found.stdout).toBe('');
    expect(a!.shell('find / -xdev -name "*dr-HACKED*"').stdout).toBe('');
  });

  it('uninstalls through its uninstall.sh: files and db entries gone, daemon stopped, configuration and backup kept', async () => {
    const pid = daemonPid(a!);
    expect(pid).not.toBeNull();
    const config = readFileSync(a!.file(LAYOUT.config), 'utf8');
    const run = await deployInNs(['--uninstall', ...pkgArgs(packages.v110!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.out.at(-1)).toMatch(/OK\s+uninstalled 1\.3\.0-100$/);
    expect(a!.exists(LAYOUT.daemon)).toBe(false);
    expect(a!.exists('/usr/lib/igmpproxy')).toBe(false);
    expect(existsSync(a!.file(LAYOUT.initscript))).toBe(false);
    expect(installedMeta(a!)).toBeNull();
    expect(existsSync(a!.file('/opt/pakfire/db/rootfiles/igmpproxy'))).toBe(false);
    expect(readFileSync(a!.file(LAYOUT.config), 'utf8')).toBe(config);
    expect(existsSync(a!.file('/var/ipfire/backup/addons/backup/igmpproxy.ipf'))).toBe(true);
    expect(readFileSync(a!.file('/opt/pakfire/logs/uninstall-igmpproxy.log'), 'utf8')).toContain('Removing files...');
    expect(daemonPid(a!, false)).toBeNull();
    const again = await deployInNs(['--uninstall', ...pkgArgs(packages.v110!), ...common()]);
    expect(again.code).toBe(0);
    expect(again.out.at(-1)).toContain('igmpproxy is not installed; nothing to do');
  });

  it("a failing fresh install: log tail shown, exit 1, nothing recorded in pakfire's db", async () => {
    const file = knownHostsWith('kh-failing-install', [`[127.0.0.1]:${c!.port} ${c!.hostKeyLine}`]);
    const run = await deployInNs([
      ...pkgArgs(packages.failingInstall!),
      '-i',
      c!.clientKey,
      '--known-hosts',
      file,
      `root@127.0.0.1:${c!.port}`,
    ]);
    expect(run.code).toBe(1);
    expect(run.all).toContain('install.sh: simulated failure after its work');
    expect(readFileSync(c!.file('/opt/pakfire/logs/install-igmpproxy.log'), 'utf8')).toContain(
      "install.sh: pakfire's lock is held",
    );
    expect(run.out.at(-1)).toMatch(
      /FAILED\s+the package script failed with exit 4; see \/opt\/pakfire\/logs\/install-igmpproxy\.log/,
    );
    expect(installedMeta(c!)).toBeNull();
    expect(existsSync(c!.file('/opt/pakfire/db/rootfiles/igmpproxy'))).toBe(false);
    expect(readdirSync(c!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(c!.file('/tmp/pakfire_lock'))).toBe(false);
  });

  it('several hosts with one failing: bounded parallel run, one summary line per host, exit 1', async () => {
    // Nothing listens on this port in the test's fresh namespace.
    const closedPort = 2299;
    const hostsFile = path.join(work, 'hosts');
    writeFileSync(hostsFile, `# lab\nroot@127.0.0.1:${a!.port}\n\nroot@127.0.0.1:${closedPort}  # switched off\n`);
    const file = knownHostsWith('multi', [
      `[127.0.0.1]:${a!.port} ${a!.hostKeyLine}`,
      `[127.0.0.1]:${c!.port} ${c!.hostKeyLine}`,
    ]);
    // Both appliances trust a's client key when it is in both authorized_keys files.
    const authorized = path.join(path.dirname(c!.clientKey), 'authorized_keys');
    writeFileSync(authorized, `${readFileSync(authorized, 'utf8')}${readFileSync(`${a!.clientKey}.pub`, 'utf8')}`);
    const run = await deployInNs([
      ...pkgArgs(packages.v110!),
      '-i',
      a!.clientKey,
      '--known-hosts',
      file,
      '--parallel',
      '2',
      '--hosts',
      hostsFile,
      `root@127.0.0.1:${c!.port}`,
    ]);
    expect(run.code).toBe(1);
    const summary = run.out.slice(run.out.indexOf('summary:') + 1);
    expect(summary).toHaveLength(3);
    expect(summary[0]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${a!.port}\\s+OK\\s+installed 1\\.1\\.0-100$`));
    expect(summary[1]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${closedPort}\\s+FAILED\\s+connection refused`));
    expect(summary[2]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${c!.port}\\s+OK\\s+installed 1\\.1\\.0-100$`));
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(installedMeta(c!)).toContain('ProgVersion: 1.1.0');
    expect(daemonPid(c!)).not.toBeNull();
  });
});

describe('host keys and credentials against a real OpenSSH server', { timeout: 60_000 }, () => {
  const status = (knownHosts: string, ...extra: string[]): Promise<Run> =>
    deployInNs(['--status', '-i', b!.clientKey, '--known-hosts', knownHosts, ...extra, `root@127.0.0.1:${b!.port}`]);

  function otherKeyLine(): string {
    const file = path.join(work, `other-key-${Date.now()}`);
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    return readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  }

  it('accepts a hashed known_hosts entry for [host]:port (ssh-keygen -H)', async () => {
    const file = knownHostsWith('hashed', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    expect(spawnSync('ssh-keygen', ['-H', '-f', file]).status).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toContain('127.0.0.1');
    const run = await status(file);
    expect(run.code, run.all).toBe(0);
  });

  it('accepts a comma-list entry among several keys and lines', async () => {
    const file = knownHostsWith('list', [
      `# appliances`,
      `@cert-authority *.example.net ${otherKeyLine()}`,
      `fw.example.net,[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`,
      `[127.0.0.1]:${b!.port} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=`,
    ]);
    const run = await status(file);
    expect(run.code, run.all).toBe(0);
    expect(run.all).toContain('@cert-authority entries are not supported; ignored');
  });

  it('refuses a CHANGED host key loudly, even with --accept-new, and does not touch known_hosts', async () => {
    const file = knownHostsWith('changed', [`[127.0.0.1]:${b!.port} ${otherKeyLine()}`]);
    const before = readFileSync(file, 'utf8');
    const run = await status(file, '--accept-new');
    expect(run.code).toBe(1);
    expect(run.all).toContain(
      `HOST KEY CHANGED for root@127.0.0.1:${b!.port}: it now presents ${fingerprint(b!.hostKeyPub)}`,
    );
    expect(run.all).toContain('man-in-the-middle');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('refuses a @revoked host key', async () => {
    const file = knownHostsWith('revoked', [
      `[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`,
      `@revoked * ${b!.hostKeyLine}`,
    ]);
    const run = await status(file, '--accept-new');
    expect(run.code).toBe(1);
    expect(run.out.at(-1)).toContain('is marked @revoked');
  });

  it('logs in through ssh-agent when no identity file is given', async () => {
    const socket = path.join(work, 'agent.sock');
    const agent = spawnSync('ssh-agent', ['-a', socket], { encoding: 'utf8' });
    agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
    expect(spawnSync('ssh-add', [b!.clientKey], { env: { SSH_AUTH_SOCK: socket } }).status).toBe(0);
    const file = knownHostsWith('agent', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const run = await deployInNs(['--status', '--known-hosts', file, `root@127.0.0.1:${b!.port}`], {
      SSH_AUTH_SOCK: socket,
    });
    expect(run.code, run.all).toBe(0);
  });

  it('bad credentials: one clear line, exit 1, no stack trace (real CLI)', async () => {
    const wrongKey = path.join(work, 'wrong-key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey]);
    const file = knownHostsWith('creds', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const result = await deployInNs(['--status', '-i', wrongKey, '--known-hosts', file, `root@127.0.0.1:${b!.port}`]);
    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `[root@127.0.0.1:${b!.port}] error: authentication failed for root@127.0.0.1:${b!.port} (tried publickey)`,
    ]);
    expect(result.out.join('\n')).toMatch(/FAILED\s+authentication failed/);
  });

  it('asks for a password only on a terminal, without echo (real CLI in a pty)', async () => {
    const file = knownHostsWith('pty', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const command = shellCommand([
      'ip',
      'netns',
      'exec',
      ns!.name,
      process.execPath,
      path.join(REPO, 'scripts/deploy.ts'),
      '--status',
      '--known-hosts',
      file,
      `root@127.0.0.1:${b!.port}`,
    ]);
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      env: { PATH: process.env.PATH, HOME: work, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let answered = false;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!answered && output.includes(`root@127.0.0.1:${b!.port} password: `)) {
        answered = true;
        child.stdin.write('not-the-password\r');
      }
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (exit) => {
        clearTimeout(timer);
        resolve(exit);
      });
    });
    expect(answered, output).toBe(true);
    expect(code).toBe(1);
    expect(output).not.toContain('not-the-password');
    expect(output).toContain(`authentication failed for root@127.0.0.1:${b!.port} (tried password)`);
  });

  it('a remote step that takes longer than --command-timeout fails with that reason', async () => {
    // A process in the appliance that ignores SIGUSR1 poses as the daemon (dash started through
    // a link named like the daemon, so /proc/PID/comm passes the live-process check): the
    // status query then waits (3 s) for a status file that never comes.
    const poser = `/tmp/dr-poser/${LAYOUT.processName}`;
    const started = b!.shell(
      `mkdir -p /tmp/dr-poser && ln -sfn /usr/bin/dash ${poser} && { setsid ${poser} -c 'trap "" USR1; sleep 30' </dev/null >/dev/null 2>&1 & echo "$!" > ${LAYOUT.pidfile}; }`,
    );
    expect(started.status, started.stderr).toBe(0);
    try {
      const file = knownHostsWith('timeout', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
      const run = await deployInNs([
        '--status',
        '-i',
        b!.clientKey,
        '--known-hosts',
        file,
        '--command-timeout',
        '1',
        `root@127.0.0.1:${b!.port}`,
      ]);
      expect(run.code).toBe(1);
      expect(run.out.at(-1)).toMatch(/FAILED\s+the status query did not finish within 1 s/);
    } finally {
      b!.shell(`kill -KILL -- "-$(cat ${LAYOUT.pidfile})"; rm -rf ${LAYOUT.pidfile} /tmp/dr-poser`);
    }
  });

  it('usage errors exit 2 with one line, hostile host names included (real CLI)', () => {
    for (const target of ['root@127.0.0.1;touch /tmp/ipd7-HACKED4', 'root@$(reboot)', 'root@host name', 'root@a\nb']) {
      const result = cli(['--status', '-i', b!.clientKey, target]);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain('bad target');
    }
    expect(cli(['--frobnicate']).code).toBe(2);
    expect(existsSync('/tmp/ipd7-HACKED4')).toBe(false);
  });

  it('gives up on a server that never speaks SSH after --connect-timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const file = knownHostsWith('silent', []);
      const started = Date.now();
      const run = await deploy([
        '--status',
        '-i',
        b!.clientKey,
        '--known-hosts',
        file,
        '--connect-timeout',
        '1',
        `root@127.0.0.1:${port}`,
      ]);
      expect(run.code).toBe(1);
      expect(run.out.at(-1)).toMatch(/FAILED\s+no SSH handshake within 1 s/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
