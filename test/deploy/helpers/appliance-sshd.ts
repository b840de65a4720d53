// A throwaway IPFire "appliance" served by a REAL OpenSSH server: `sshd -D -e -f CONFIG` on
// 127.0.0.1 of a network namespace of the test, as root, with `ChrootDirectory` pointing at
// the stand-in IPFire tree the package tests use too (test/helpers/ipfire-root.ts): real
// legacy iptables (changes stay in the test's namespace), IPFire's addonctrl, /proc, /dev,
// /sys, and /run, /dev/shm, /var/lock mounted as IPFire mounts them with /var/run -> ../run.
// IPFire's rc functions find daemons with pidof, so sshd runs in its own PID namespace (as
// its init: everything started there ends with it) and its own mount namespace
// (`unshare -m`): the appliance's /usr is an overlay (the machine's /usr as
// read-only lower layer, a throwaway upper dir holding the stand-ins and whatever the package
// installs); all of it vanishes with the namespace, and the real /opt, /etc, /usr are never
// written. The root lives under /run (all path components root-owned, 0755, as sshd's
// ChrootDirectory demands; /tmp would be refused for being world-writable).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { buildIpfireRoot, ipfireRootMounts, MACHINE_IGMPPROXY_PATHS } from '../../helpers/ipfire-root.ts';

export interface ApplianceOptions {
  /** Network namespace (already created, lo up) for sshd; it listens on that 127.0.0.1. */
  readonly netns: string;
  /** Offer password authentication (root has no usable password here: every password fails). */
  readonly passwords?: boolean;
  /** What `uname -m` says on the appliance (a stand-in uname); default: the real uname, this machine's. */
  readonly machine?: string;
  /** Port inside `netns` (default 2222), so that several appliances can share one namespace. */
  readonly port?: number;
}
let counter = 0;

export interface Appliance {
  /** The appliance's / on disk (as seen from outside the namespace; its usr/ is in usrUpper). */
  readonly root: string;
  /** Upper layer of the appliance's /usr: what was added or changed there. */
  readonly usrUpper: string;
  readonly port: number;
  /** `ssh-ed25519 AAAA...` of the server's host key. */
  readonly hostKeyLine: string;
  readonly hostKeyPub: string;
  /** Authorized client key (private key file). */
  readonly clientKey: string;
  readonly sshdPid: number;
  readonly log: () => string;
  /** Path inside the appliance → path on disk (files under /usr: in the overlay's upper layer). */
  file(inside: string): string;
  /** Whether a path exists as the appliance sees it (overlay whiteouts count as deleted). */
  exists(inside: string): boolean;
  /** Runs a command inside sshd's mount namespace (e.g. to mount a tmpfs into the root). */
  inNamespace(args: string[]): { status: number | null; stderr: string };
  /**
   * Runs a bash script as the appliance sees itself (its mount, PID and network namespaces,
   * chrooted to its root), e.g. to read /var/run on its tmpfs; bounded: 10 s.
   */
  shell(script: string): { status: number | null; stdout: string; stderr: string };
  /** Kills the SSH sessions sshd has open (connection lost mid-transfer). */
  killSessions(): number;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** sshd -e says "Server listening on ADDR port N." once it accepts connections. */
async function waitForListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${log()}`);
    if (log().includes(`Server listening on 127.0.0.1 port ${port}.`)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}

function makeKey(file: string, comment: string): void {
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** A uname that reports another machine: the appliance then looks like one of that architecture. */
function addMachineStandin(usrUpper: string, machine: string): void {
  if (!/^[a-z0-9_]+$/.test(machine)) throw new Error(`machine ${JSON.stringify(machine)}: letters, digits, _ only`);
  writeFileSync(
    path.join(usrUpper, 'bin/uname'),
    [
      '#!/bin/sh',
      `# STAND-IN uname of a test appliance: it poses as ${machine}. Only -m is answered.`,
      `if [ "$#" -eq 1 ] && [ "$1" = -m ]; then echo ${machine}; exit 0; fi`,
      'echo "uname stand-in: only -m is supported" >&2',
      'exit 1',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

/**
 * Mounts inside the new namespace, then becomes sshd ($1 root, $2 config, $3 upper, $4 work).
 * The machine may have Debian's igmpproxy in /usr: every path the packages install under
 * /usr is hidden in the overlay first.
 */
const namespaceSetup = (): string => `set -e
root=$1 config=$2 upper=$3 work=$4
${ipfireRootMounts('root', 'upper', 'work')}
for installed in ${MACHINE_IGMPPROXY_PATHS.join(' ')}; do rm -rf "$root$installed"; done
exec /usr/sbin/sshd -D -e -f "$config"
`;

/** The sshd process below a wrapper (ip netns exec / unshare --fork), found by its config path. */
function findSshd(wrapperPid: number, config: string): number {
  const queue = [wrapperPid];
  for (let visited = 0; queue.length > 0 && visited < 20; visited++) {
    const pid = queue.shift()!;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    // The wrappers' command lines hold the config path too (the setup script names sshd): only
    // the process that became sshd counts, else killSessions would take sshd itself for a session.
    if (comm === 'sshd' && cmdline.includes(config)) return pid;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (children !== '') queue.push(...children.split(' ').map(Number));
    }
  }
  throw new Error(`no sshd below pid ${wrapperPid}`);
}

export async function startAppliance(name: string, options: ApplianceOptions): Promise<Appliance> {
  const base = `/run/ipd7-deploy-${process.pid}-${name}-${counter++}`;
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { mode: 0o755 });
  const root = path.join(base, 'root');
  const keys = path.join(base, 'keys');
  const usrUpper = path.join(base, 'usr-upper');
  const usrWork = path.join(base, 'usr-work');
  mkdirSync(keys, { mode: 0o700 });
  mkdirSync(usrWork, { mode: 0o700 });
  await buildIpfireRoot(root, usrUpper);
  if (options.machine !== undefined) {
    mkdirSync(path.join(usrUpper, 'bin'), { recursive: true, mode: 0o755 });
    addMachineStandin(usrUpper, options.machine);
  }
  makeKey(path.join(keys, 'host_ed25519'), 'appliance-host-key');
  makeKey(path.join(keys, 'client_ed25519'), 'deploy-test-client');
  cpSync(path.join(keys, 'client_ed25519.pub'), path.join(keys, 'authorized_keys'));
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });

  // A fresh network namespace has every port free.
  const port = options.port ?? 2222;
  const config = path.join(base, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(keys, 'host_ed25519')}`,
      `PidFile ${path.join(base, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(keys, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${options.passwords ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `ChrootDirectory ${root}`,
      'Subsystem sftp internal-sftp',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'MaxStartups 50:30:100',
      'MaxSessions 50',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );

  let output = '';
  // setpriv --pdeathsig: should the test process die without afterAll, sshd dies with it.
  // In a new PID namespace sshd is its init: everything started there ends with it.
  const unshare = [
    'unshare',
    '-m',
    '--propagation',
    'private',
    '-p',
    '--fork',
    '--kill-child',
    '--',
    'setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    '/bin/sh',
    '-c',
    namespaceSetup(),
    'ipd7-ns',
    root,
    config,
    usrUpper,
    usrWork,
  ];
  const argv = ['ip', 'netns', 'exec', options.netns, ...unshare];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const log = (): string => output;
  await waitForListening(port, child, log);
  const sshdPid = findSshd(child.pid!, config);
  const namespace = readlinkSync(`/proc/${sshdPid}/ns/mnt`);

  const processesInNamespace = (): number[] => {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(entry) || Number(entry) === sshdPid) continue;
      try {
        if (readlinkSync(`/proc/${entry}/ns/mnt`) === namespace) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  };

  const appliance: Appliance = {
    root,
    usrUpper,
    port,
    hostKeyLine: readFileSync(path.join(keys, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' '),
    hostKeyPub: path.join(keys, 'host_ed25519.pub'),
    clientKey: path.join(keys, 'client_ed25519'),
    sshdPid,
    log,
    file: (inside) => {
      const relative = inside.replace(/^\/+/, '');
      return relative.startsWith('usr/') ? path.join(usrUpper, relative.slice(4)) : path.join(root, relative);
    },
    exists(inside) {
      const relative = inside.replace(/^\/+/, '');
      if (!relative.startsWith('usr/')) return existsSync(path.join(root, relative));
      const upper = lstatSync(path.join(usrUpper, relative.slice(4)), { throwIfNoEntry: false });
      if (upper) return !(upper.isCharacterDevice() && upper.rdev === 0);
      return existsSync(path.join('/', relative));
    },
    inNamespace(args) {
      const result = spawnSync('nsenter', ['-t', String(sshdPid), '-m', '--', ...args], { encoding: 'utf8' });
      return { status: result.status, stderr: result.stderr };
    },
    shell(script) {
      const result = spawnSync(
        'nsenter',
        ['-t', String(sshdPid), '-m', '-p', '-n', '--', 'chroot', root, '/bin/bash', '-c', script],
        { encoding: 'utf8', timeout: 10_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
      );
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    killSessions() {
      let killed = 0;
      for (const pid of processesInNamespace()) {
        try {
          if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sshd:')) {
            process.kill(pid, 'SIGKILL');
            killed++;
          }
        } catch {
          // already gone
        }
      }
      return killed;
    },
    async stop() {
      // Everything that lives in the namespace (sessions, the test daemon) goes with it.
      for (let round = 0; round < 3; round++) {
        for (const pid of processesInNamespace()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      if (sshdPid !== child.pid) {
        try {
          process.kill(sshdPid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      // Outside the namespace the bind mount points are plain empty directories.
      rmSync(base, { recursive: true, force: true });
    },
  };
  return appliance;
}
