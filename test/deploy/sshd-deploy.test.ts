// End-to-end: the deploy tool against a REAL OpenSSH server (Debian openssh-server) serving
// a throwaway appliance root through ChrootDirectory (see helpers/appliance-sshd.ts).
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type DeployIo } from '../../scripts/deploy/main.ts';
import { shellCommand } from '../../scripts/deploy/quote.ts';
import { startAppliance, type Appliance } from './helpers/appliance-sshd.ts';
import { buildTestPackage, TEST_PACKAGE_ROOTFILES, type TestPackage } from './helpers/test-package.ts';
import { REPOSITORY_ROOT as REPO } from '../../build/repository.ts';
import { LAYOUT } from '../../build/render.ts';

const HOST_ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const OTHER_ELF_MACHINE = HOST_ARCH === 'x86_64' ? 0xb7 : 0x3e;
const work = mkdtempSync(path.join(tmpdir(), 'ipd7-deploy-'));
let a: Appliance | undefined;
let b: Appliance | undefined;
let agentPid: number | null = null;
const packages: Record<string, TestPackage> = {};

interface Run {
  code: number;
  out: string[];
  err: string[];
  all: string;
}

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

function pkgArgs(pkg: TestPackage): string[] {
  return ['--package', pkg.ipfire, '--meta', pkg.meta];
}

function installedMeta(appliance: Appliance): string | null {
  const file = appliance.file('/opt/pakfire/db/installed/meta-igmpproxy');
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

function runningDaemonPid(appliance: Appliance): number | null {
  const file = appliance.file('/var/run/igmpproxy.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function binaryVersion(appliance: Appliance): string {
  return spawnSync('/bin/sh', [appliance.file('/usr/sbin/igmpproxy'), '--version'], { encoding: 'utf8' }).stdout.trim();
}

beforeAll(async () => {
  a = await startAppliance('a');
  b = await startAppliance('b', { passwords: true });
  const build = async (key: string, options: Parameters<typeof buildTestPackage>[0]): Promise<void> => {
    packages[key] = await buildTestPackage(options);
  };
  await build('v100', { outDir: path.join(work, 'v100'), version: '1.0.0' });
  await build('v110', { outDir: path.join(work, 'v110'), version: '1.1.0' });
  await build('failing', { outDir: path.join(work, 'failing'), version: '1.1.5', failingUpdate: true });
  await build('large', { outDir: path.join(work, 'large'), version: '1.2.0', fillerBytes: 16 * 1_048_576 });
  await build('foreign', { outDir: path.join(work, 'foreign'), version: '1.2.5', elfMachine: OTHER_ELF_MACHINE });
  const hostileDir = path.join(work, `dir with 'quote' $(touch /tmp/ipd7-HACKED-dir)`);
  mkdirSync(hostileDir, { recursive: true });
  const hostile = await buildTestPackage({
    outDir: hostileDir,
    version: '1.3.0',
    // No '/' possible in a file name: the injected commands would create files in the remote cwd.
    fileName: `igmp proxy '$(touch ipd7-HACKED1)' \`touch ipd7-HACKED2\`; touch ipd7-HACKED3 "dq" \n next line.ipfire`,
  });
  writeFileSync(
    hostile.meta,
    readFileSync(hostile.meta, 'utf8').replace(/File: [\s\S]*?\.ipfire\n/, 'File: igmpproxy-1.3.0-100.ipfire\n'),
  );
  packages.hostile = hostile;
}, 120_000);

afterAll(async () => {
  if (agentPid !== null) {
    try {
      process.kill(agentPid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  await a?.stop();
  await b?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('deploy against a real OpenSSH server', { timeout: 60_000 }, () => {
  let knownHosts = '';
  const target = (): string => `root@127.0.0.1:${a!.port}`;
  const common = (): string[] => ['-i', a!.clientKey, '--known-hosts', knownHosts, target()];

  it('refuses an unknown host, showing its SHA256 fingerprint', async () => {
    knownHosts = knownHostsWith('known_hosts_a', []);
    const run = await deploy(['--status', ...common()]);
    expect(run.code).toBe(1);
    expect(run.all).toContain(`unknown host key for [127.0.0.1]:${a!.port}: ssh-ed25519 ${fingerprint(a!.hostKeyPub)}`);
    expect(run.all).toContain('--accept-new');
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
  });

  it('records the key with --accept-new and accepts it afterwards without the flag', async () => {
    const first = await deploy(['--status', '--accept-new', ...common()]);
    expect(first.code, first.all).toBe(0);
    expect(first.all).toContain(`recorded new host key ssh-ed25519 ${fingerprint(a!.hostKeyPub)}`);
    expect(readFileSync(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${a!.port} ${a!.hostKeyLine}\n`);
    const again = await deploy(['--status', ...common()]);
    expect(again.code, again.all).toBe(0);
    expect(again.all).toContain('installed: no');
    expect(again.all).toContain('service: missing');
    expect(readFileSync(knownHosts, 'utf8').split('\n')).toHaveLength(2);
  });

  it('installs: files land, db entries recorded, install log written, service started', async () => {
    const run = await deploy([...pkgArgs(packages.v100!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.all).toContain('installing igmpproxy 1.0.0-100');
    expect(run.all).toContain('uploaded and verified');
    expect(run.out.at(-1)).toMatch(/OK\s+installed 1\.0\.0-100$/);
    expect(binaryVersion(a!)).toBe('igmpproxy 1.0.0');
    expect(readFileSync(a!.file('/opt/pakfire/db/rootfiles/igmpproxy'), 'utf8')).toBe(
      `${TEST_PACKAGE_ROOTFILES.join('\n')}\n`,
    );
    // The boot links the real package makes (the layout's numbers).
    for (const link of [`rc3.d/S${LAYOUT.startNumber}`, `rc0.d/K${LAYOUT.stopNumber}`, `rc6.d/K${LAYOUT.stopNumber}`]) {
      expect(readlinkSync(a!.file(`/etc/rc.d/${link}${LAYOUT.name}`)), link).toBe(`../init.d/${LAYOUT.name}`);
    }
    expect(installedMeta(a!)).toBe(readFileSync(packages.v100!.meta, 'utf8'));
    const log = readFileSync(a!.file('/opt/pakfire/logs/install-igmpproxy.log'), 'utf8');
    expect(log).toContain('Extracting files...');
    expect(log).toContain('Starting igmpproxy...');
    expect(log).toContain("install.sh: pakfire's lock is held");
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    expect(readdirSync(a!.file('/var/tmp')).filter((name) => name.startsWith('igmpproxy-deploy.'))).toEqual([]);
    expect(runningDaemonPid(a!)).not.toBeNull();
    expect(readFileSync(a!.file('/etc/igmpproxy.conf'), 'utf8')).toContain('default configuration 1.0.0');
  });

  it('shows the status: service, version, groups and routes from the daemon, firewall hooks', async () => {
    const run = await deploy(['--status', ...common()]);
    expect(run.code, run.all).toBe(0);
    const pid = runningDaemonPid(a!);
    expect(run.all).toContain(`service: running (igmpproxy is running with Process ID(s) ${pid}.)`);
    expect(run.all).toContain('installed: 1.0.0-100');
    expect(run.all).toContain('groups: 1');
    expect(run.all).toContain('239.35.10.4 on green0: 1 host(s) 192.168.0.100');
    expect(run.all).toContain('routes: 1');
    expect(run.all).toContain('(10.1.2.3, 239.35.10.4) ppp0 -> green0: 1234 packets');
    expect(run.all).not.toContain('did not refresh');
    expect(run.all).toContain('firewall IPTVINPUT -> IGMPPROXY_IN: in place');
    expect(run.all).toContain('firewall IPTVFORWARD -> IGMPPROXY_FWD: in place');
    expect(JSON.parse(readFileSync(a!.file('/var/run/igmpproxy.status'), 'utf8')).version).toBe('1.0.0');
  });

  it('updates through update.sh when the package is installed, keeping the admin configuration', async () => {
    writeFileSync(a!.file('/etc/igmpproxy.conf'), '# edited by the admin\nquickleave\n');
    const before = runningDaemonPid(a!);
    const run = await deploy([...pkgArgs(packages.v110!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.all).toContain('updating igmpproxy 1.0.0-100 to 1.1.0-100');
    expect(run.all).toContain('running update.sh');
    expect(run.out.at(-1)).toMatch(/OK\s+updated 1\.0\.0-100 -> 1\.1\.0-100$/);
    expect(readFileSync(a!.file('/opt/pakfire/logs/update-igmpproxy.log'), 'utf8')).toContain(
      'deploy: update igmpproxy-1.1.0-100.ipfire',
    );
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(binaryVersion(a!)).toBe('igmpproxy 1.1.0');
    expect(readFileSync(a!.file('/etc/igmpproxy.conf'), 'utf8')).toBe('# edited by the admin\nquickleave\n');
    const after = runningDaemonPid(a!);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });

  it('a failing update.sh: log tail shown, exit 1, the installed version stays recorded and running', async () => {
    const pid = runningDaemonPid(a!);
    const run = await deploy([...pkgArgs(packages.failing!), ...common()]);
    expect(run.code).toBe(1);
    expect(run.all).toContain('update.sh: simulated failure before any change');
    expect(run.all).toContain('the package script failed with exit 3; see /opt/pakfire/logs/update-igmpproxy.log');
    expect(run.all).not.toMatch(/\n\s+at /);
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(binaryVersion(a!)).toBe('igmpproxy 1.1.0');
    expect(runningDaemonPid(a!)).toBe(pid);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
  });

  it('a connection lost mid-upload leaves nothing half-installed', async () => {
    let killed = 0;
    const pid = runningDaemonPid(a!);
    const run = await deploy([...pkgArgs(packages.large!), ...common()], {
      onUploadProgress: (_label, done, total) => {
        if (killed === 0 && done > 2 * 1_048_576 && done < total) killed = a!.killSessions();
      },
    });
    expect(killed).toBeGreaterThan(0);
    expect(run.code).toBe(1);
    expect(run.out.at(-1)).toMatch(/FAILED\s+connection lost/);
    expect(run.all).not.toContain('running update.sh');
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(binaryVersion(a!)).toBe('igmpproxy 1.1.0');
    expect(runningDaemonPid(a!)).toBe(pid);
    expect(readdirSync(a!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(false);
    // The appliance still works for the next deploy.
    const status = await deploy(['--status', ...common()]);
    expect(status.code, status.all).toBe(0);
    expect(status.all).toContain('installed: 1.1.0-100');
  });

  it('refuses when /opt/pakfire/tmp is too small (a tiny tmpfs mounted there)', async () => {
    const tmpDir = `${a!.root}/opt/pakfire/tmp`;
    const mounted = a!.inNamespace(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'ipd7-full', tmpDir]);
    expect(mounted.status, mounted.stderr).toBe(0);
    try {
      const run = await deploy([...pkgArgs(packages.large!), ...common()]);
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
      const run = await deploy([...pkgArgs(packages.v100!), ...common()]);
      expect(run.code).toBe(1);
      expect(run.out.at(-1)).toMatch(/FAILED\s+pakfire is running \(\/tmp\/pakfire_lock exists\)/);
      expect(existsSync(a!.file('/tmp/pakfire_lock'))).toBe(true);
    } finally {
      rmSync(a!.file('/tmp/pakfire_lock'));
    }
  });

  it('refuses a package built for another architecture', async () => {
    const run = await deploy([...pkgArgs(packages.foreign!), ...common()]);
    expect(run.code).toBe(1);
    expect(run.out.at(-1)).toContain(
      `the package is built for ${HOST_ARCH === 'x86_64' ? 'aarch64' : 'x86_64'} but the appliance is ${HOST_ARCH}`,
    );
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
  });

  it('quotes hostile local file names: installs, and no injected command ran', async () => {
    const run = await deploy([...pkgArgs(packages.hostile!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.out.at(-1)).toMatch(/OK\s+updated 1\.1\.0-100 -> 1\.3\.0-100$/);
    expect(binaryVersion(a!)).toBe('igmpproxy 1.3.0');
    const found = spawnSync(
      'find',
      [a!.root, a!.usrUpper, '/tmp', '-xdev', '-name', '*ipd7-HACKED*', '-not', '-path', `${work}/*`],
      { encoding: 'utf8' },
    );
    expect(found.stdout).toBe('');
  });

  it('uninstalls the pakfire way: files and db entries gone, configuration and backup kept', async () => {
    const pid = runningDaemonPid(a!);
    const run = await deploy(['--uninstall', ...pkgArgs(packages.v110!), ...common()]);
    expect(run.code, run.all).toBe(0);
    expect(run.out.at(-1)).toMatch(/OK\s+uninstalled 1\.3\.0-100$/);
    expect(a!.exists('/usr/sbin/igmpproxy')).toBe(false);
    expect(a!.exists('/usr/lib/igmpproxy')).toBe(false);
    expect(existsSync(a!.file('/etc/rc.d/init.d/igmpproxy'))).toBe(false);
    expect(installedMeta(a!)).toBeNull();
    expect(existsSync(a!.file('/opt/pakfire/db/rootfiles/igmpproxy'))).toBe(false);
    expect(readFileSync(a!.file('/etc/igmpproxy.conf'), 'utf8')).toBe('# edited by the admin\nquickleave\n');
    expect(existsSync(a!.file('/var/ipfire/backup/addons/backup/igmpproxy.ipf'))).toBe(true);
    expect(readFileSync(a!.file('/opt/pakfire/logs/uninstall-igmpproxy.log'), 'utf8')).toContain('Removing files...');
    expect(pid).not.toBeNull();
    expect(() => process.kill(pid!, 0)).toThrow();
    const again = await deploy(['--uninstall', ...pkgArgs(packages.v110!), ...common()]);
    expect(again.code).toBe(0);
    expect(again.out.at(-1)).toContain('igmpproxy is not installed; nothing to do');
  });
});

describe('host keys and credentials against a real OpenSSH server', { timeout: 60_000 }, () => {
  const status = (knownHosts: string, ...extra: string[]): Promise<Run> =>
    deploy(['--status', '-i', b!.clientKey, '--known-hosts', knownHosts, ...extra, `root@127.0.0.1:${b!.port}`]);

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
    const run = await deploy(['--status', '--known-hosts', file, `root@127.0.0.1:${b!.port}`], {
      env: { SSH_AUTH_SOCK: socket },
    });
    expect(run.code, run.all).toBe(0);
  });

  it('bad credentials: one clear line, exit 1, no stack trace (real CLI)', () => {
    const wrongKey = path.join(work, 'wrong-key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey]);
    const file = knownHostsWith('creds', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const result = cli(['--status', '-i', wrongKey, '--known-hosts', file, `root@127.0.0.1:${b!.port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `[root@127.0.0.1:${b!.port}] error: authentication failed for root@127.0.0.1:${b!.port} (tried publickey)\n`,
    );
    expect(result.stdout).toMatch(/FAILED\s+authentication failed/);
  });

  it('asks for a password only on a terminal, without echo (real CLI in a pty)', async () => {
    const file = knownHostsWith('pty', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const command = shellCommand([
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
    // A process of this test that ignores SIGUSR1 poses as the daemon (a shell started through
    // a link named like the daemon, so /proc/PID/comm passes the live-process check): the
    // status query then waits (3 s) for a status file that never comes.
    const poser = path.join(mkdtempSync(path.join(tmpdir(), 'ipd7-poser-')), LAYOUT.processName);
    symlinkSync('/bin/sh', poser);
    const stubborn = spawn(poser, ['-c', 'trap "" USR1; sleep 30'], { stdio: 'ignore' });
    writeFileSync(b!.file('/var/run/igmpproxy.pid'), `${stubborn.pid}\n`);
    try {
      const file = knownHostsWith('timeout', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
      const run = await deploy([
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
      stubborn.kill('SIGKILL');
      rmSync(b!.file('/var/run/igmpproxy.pid'), { force: true });
      rmSync(path.dirname(poser), { recursive: true, force: true });
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

  it("a failing fresh install: log tail shown, exit 1, nothing recorded in pakfire's db", async () => {
    const failing = await buildTestPackage({
      outDir: path.join(work, 'failing-install'),
      version: '0.9.0',
      failingInstall: true,
    });
    const file = knownHostsWith('kh-failing-install', [`[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`]);
    const run = await deploy([
      ...pkgArgs(failing),
      '-i',
      b!.clientKey,
      '--known-hosts',
      file,
      `root@127.0.0.1:${b!.port}`,
    ]);
    expect(run.code).toBe(1);
    expect(run.all).toContain('install.sh: simulated failure after extracting');
    expect(run.out.at(-1)).toMatch(
      /FAILED\s+the package script failed with exit 4; see \/opt\/pakfire\/logs\/install-igmpproxy\.log/,
    );
    expect(installedMeta(b!)).toBeNull();
    expect(existsSync(b!.file('/opt/pakfire/db/rootfiles/igmpproxy'))).toBe(false);
    expect(readdirSync(b!.file('/opt/pakfire/tmp'))).toEqual([]);
    expect(existsSync(b!.file('/tmp/pakfire_lock'))).toBe(false);
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

  it('several hosts with one failing: bounded parallel run, one summary line per host, exit 1', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
      });
    });
    const hostsFile = path.join(work, 'hosts');
    writeFileSync(hostsFile, `# lab\nroot@127.0.0.1:${a!.port}\n\nroot@127.0.0.1:${closedPort}  # switched off\n`);
    const file = knownHostsWith('multi', [
      `[127.0.0.1]:${a!.port} ${a!.hostKeyLine}`,
      `[127.0.0.1]:${b!.port} ${b!.hostKeyLine}`,
    ]);
    const clientKey = path.join(work, 'shared-client-key');
    // Both appliances trust the same client key when it is in both authorized_keys files.
    writeFileSync(clientKey, readFileSync(a!.clientKey));
    const authorized = path.join(path.dirname(b!.clientKey), 'authorized_keys');
    writeFileSync(authorized, `${readFileSync(authorized, 'utf8')}${readFileSync(`${a!.clientKey}.pub`, 'utf8')}`);
    const run = await deploy([
      ...pkgArgs(packages.v110!),
      '-i',
      clientKey,
      '--known-hosts',
      file,
      '--parallel',
      '2',
      '--hosts',
      hostsFile,
      `root@127.0.0.1:${b!.port}`,
    ]);
    expect(run.code).toBe(1);
    const summary = run.out.slice(run.out.indexOf('summary:') + 1);
    expect(summary).toHaveLength(3);
    expect(summary[0]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${a!.port}\\s+OK\\s+installed 1\\.1\\.0-100$`));
    expect(summary[1]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${closedPort}\\s+FAILED\\s+connection refused`));
    expect(summary[2]).toMatch(new RegExp(`root@127\\.0\\.0\\.1:${b!.port}\\s+OK\\s+installed 1\\.1\\.0-100$`));
    expect(installedMeta(a!)).toContain('ProgVersion: 1.1.0');
    expect(installedMeta(b!)).toContain('ProgVersion: 1.1.0');
  });
});
