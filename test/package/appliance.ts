// A throwaway IPFire-like root for running the add-on's scripts for real.
//
// The root lives in a temp dir: its own /etc, /opt, /var, /tmp, with IPFire's rc and Pakfire
// functions as stand-ins (test/fixtures/appliance/). /usr is an overlay of the host's /usr
// whose writes land in <dir>/usr-upper, so the package can install /usr/sbin/igmpproxy
// without touching the host. Every run happens in a network namespace the test created
// (real iptables, real `ip link`), a private mount namespace and a new PID namespace: the
// daemons a run starts die with it. /run, /dev/shm and /var/lock are fresh tmpfs mounts each
// time (like a reboot) with the options IPFire's own boot scripts use (ipfire-mounts.ts: /run
// and /dev/shm noexec, /run 8 MB), and /var/run is the link to ../run that IPFire has. The
// repository is mounted read-only at /opt/igmpproxy-test/repo for the real daemon
// (test/helpers/real-daemon.ts).
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecResult, Netns } from '../../scripts/lab/netns.ts';
import { buildPackage } from '../../build/package.ts';
import { ipfireMountCommands, ipfireVarRunLink } from './ipfire-mounts.ts';
import { APPLIANCE_REAL_DAEMON_DIR, applianceDaemonLauncher, applianceRepositoryMount } from '../helpers/real-daemon.ts';
import { ADDONCTRL, buildAddonctrl } from '../helpers/addonctrl.ts';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/appliance');

/**
 * A real package (real scripts, real format) around the stand-in daemon binary, which hands
 * everything but running to the real daemon (test/fixtures/appliance/igmpproxy-standin);
 * quick to build.
 */
export function buildStandinPackage(outDir: string, options: { arch?: 'x86_64' | 'aarch64'; version?: string } = {}) {
  return buildPackage({
    arch: options.arch ?? 'x86_64',
    binary: path.join(FIXTURES, 'igmpproxy-standin'),
    outDir,
    version: options.version ?? '1.0.0',
    release: 100,
    sourceDateEpoch: 1_700_000_000,
  });
}

const RUN_TIMEOUT_MS = 60_000;

/** IPFire's nobody (user and group 99): the web UI runs as it. */
export const NOBODY_ID = 99;

/** Command prefix (inside the root) that runs the rest as nobody, as the web UI's CGIs run. */
export const AS_NOBODY = `setpriv --reuid=${NOBODY_ID} --regid=${NOBODY_ID} --clear-groups --`;

const enterScript = (): string => `#!/bin/bash
# Runs as PID 1 of a new PID namespace, in a private mount namespace.
set -eu
dir="$1"
script="$2"
root="$dir/root"
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$dir/usr-upper,workdir=$dir/usr-work" "$root/usr"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
${ipfireMountCommands('root')}
${applianceRepositoryMount('root')}
set +e
chroot "$root" /usr/bin/env -i PATH=/bin:/usr/bin:/sbin:/usr/sbin HOME=/root COLUMNS=80 KILLDELAY=3 \\
  /bin/bash -c "$script"
exit $?
`;

const DIRECTORIES = [
  'etc/sysconfig',
  'etc/rc.d/init.d/networking/red.up',
  'etc/rc.d/rc0.d',
  'etc/rc.d/rc3.d/off',
  'etc/rc.d/rc6.d',
  'opt/pakfire/lib',
  'opt/pakfire/tmp',
  'opt/pakfire/cache',
  'opt/pakfire/db/rootfiles',
  'opt/pakfire/db/installed',
  'opt/pakfire/db/meta',
  'opt/pakfire/logs',
  'var/ipfire/backup/addons/includes',
  'var/ipfire/backup/addons/backup',
  'var/ipfire/red',
  'var/lock',
  'var/tmp',
  'var/log',
  'root',
  'proc',
  'dev',
  'sys',
  'run',
  'usr',
];

export type PakfireAction = 'install' | 'update' | 'uninstall';

export class Appliance {
  readonly dir: string;
  readonly root: string;
  readonly ns: Netns;

  private constructor(dir: string, ns: Netns) {
    this.dir = dir;
    this.root = path.join(dir, 'root');
    this.ns = ns;
  }

  static async create(ns: Netns): Promise<Appliance> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ipp6-appliance-'));
    const appliance = new Appliance(dir, ns);
    await appliance.build();
    return appliance;
  }

  private async build(): Promise<void> {
    const { dir, root } = this;
    for (const sub of DIRECTORIES) await mkdir(path.join(root, sub), { recursive: true });
    await mkdir(path.join(root, 'tmp'), { recursive: true });
    await chmod(path.join(root, 'tmp'), 0o1777);
    await mkdir(path.join(dir, 'usr-upper/local/bin'), { recursive: true });
    await mkdir(path.join(dir, 'usr-upper/sbin'), { recursive: true });
    await mkdir(path.join(dir, 'usr-work'), { recursive: true });
    for (const link of ['bin', 'sbin', 'lib', 'lib64']) {
      if (existsSync(`/${link}`)) await symlink(`usr/${link}`, path.join(root, link));
    }
    await symlink('rc.d/init.d', path.join(root, 'etc/init.d'));
    await symlink(ipfireVarRunLink(), path.join(root, 'var/run'));

    // Host bits the host's /usr needs to run inside the root: alternatives symlinks
    // (awk, iptables...), protocol names (iptables -p igmp), the loader cache, a root user.
    await cp('/etc/alternatives', path.join(root, 'etc/alternatives'), { recursive: true, verbatimSymlinks: true });
    if (existsSync('/etc/protocols')) await copyFile('/etc/protocols', path.join(root, 'etc/protocols'));
    if (existsSync('/etc/ld.so.cache')) await copyFile('/etc/ld.so.cache', path.join(root, 'etc/ld.so.cache'));
    // IPFire's web server runs as nobody (uid and group 99 there).
    await writeFile(path.join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/bash\nnobody:x:${NOBODY_ID}:${NOBODY_ID}:nobody:/home/nobody:/bin/false\n`);
    await writeFile(path.join(root, 'etc/group'), `root:x:0:\nnobody:x:${NOBODY_ID}:\n`);

    // IPFire's environment, as stand-ins.
    await copyFile(path.join(FIXTURES, 'sysconfig-rc'), path.join(root, 'etc/sysconfig/rc'));
    await copyFile(path.join(FIXTURES, 'rc-functions'), path.join(root, 'etc/rc.d/init.d/functions'));
    await chmod(path.join(root, 'etc/rc.d/init.d/functions'), 0o644);
    await copyFile(path.join(FIXTURES, 'pakfire-functions.sh'), path.join(root, 'opt/pakfire/lib/functions.sh'));
    await copyFile(path.join(FIXTURES, 'backupctrl'), path.join(dir, 'usr-upper/local/bin/backupctrl'));
    await chmod(path.join(dir, 'usr-upper/local/bin/backupctrl'), 0o755);
    // IPFire's real addonctrl, setuid root and group nobody as on the box.
    await buildAddonctrl(path.join(dir, 'usr-upper', ADDONCTRL.slice('/usr/'.length)), NOBODY_ID);
    // STAND-IN for IPFire's update-lang-cache (rebuilds the web UI's strings): records each run.
    await writeFile(
      path.join(dir, 'usr-upper/local/bin/update-lang-cache'),
      '#!/bin/bash\n# STAND-IN for IPFire\'s update-lang-cache\necho run >> /var/log/update-lang-cache.runs\n',
      { mode: 0o755 },
    );
    // IPFire runs legacy iptables as /sbin/iptables and /sbin/iptables-restore.
    await symlink('xtables-legacy-multi', path.join(dir, 'usr-upper/sbin/iptables'));
    await symlink('xtables-legacy-multi', path.join(dir, 'usr-upper/sbin/iptables-restore'));
    // IPFire's own red.up hook that ours must follow.
    const multicastOff = path.join(root, 'etc/rc.d/init.d/networking/red.up/10-multicast');
    await writeFile(multicastOff, '#!/bin/bash\n# STAND-IN for IPFire\'s red.up/10-multicast\nexit 0\n', { mode: 0o754 });

    // The real daemon, which the package's stand-in binary hands all but running to.
    await mkdir(path.join(root, APPLIANCE_REAL_DAEMON_DIR), { recursive: true });
    await writeFile(path.join(root, APPLIANCE_REAL_DAEMON_DIR, 'igmpproxy'), applianceDaemonLauncher(), { mode: 0o755 });

    await writeFile(path.join(dir, 'enter.sh'), enterScript(), { mode: 0o755 });
    // The host may have Debian's igmpproxy: hide every path the package installs under /usr.
    const hidden = await this.run('rm -rf /usr/sbin/igmpproxy /usr/lib/igmpproxy /usr/share/igmpproxy');
    if (hidden.code !== 0) throw new Error(`appliance set-up failed: ${hidden.stderr}`);
  }

  /** Copies a settings fixture root (test/fixtures/ipfire-settings/NAME) into this root. */
  async copyIpfireSettings(name: string): Promise<void> {
    await cp(path.join(FIXTURES, '../ipfire-settings', name), this.root, { recursive: true });
  }

  /** Runs a bash script inside the root (fresh PID namespace, the test's network namespace). */
  run(script: string, timeoutMs = RUN_TIMEOUT_MS): Promise<ExecResult> {
    return this.ns.exec(
      ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--', 'bash', path.join(this.dir, 'enter.sh'), this.dir, script],
      timeoutMs,
    );
  }

  /** Host path of a file of the root; /usr paths point into the overlay's upper layer. */
  hostPath(inside: string): string {
    if (!inside.startsWith('/')) throw new Error(`'${inside}' is not absolute`);
    if (inside === '/usr' || inside.startsWith('/usr/')) return path.join(this.dir, 'usr-upper', inside.slice('/usr'.length));
    return path.join(this.root, inside);
  }

  exists(inside: string): boolean {
    return existsSync(this.hostPath(inside));
  }

  read(inside: string): Promise<Buffer> {
    return readFile(this.hostPath(inside));
  }

  async write(inside: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
    const target = this.hostPath(inside);
    await mkdir(path.dirname(target), { recursive: true });
    // Under /usr the upper layer may hold a whiteout (a 0/0 device) where a file was removed.
    await rm(target, { force: true });
    await writeFile(target, data);
    await chmod(target, mode);
  }

  /**
   * Does what Pakfire does with a package (src/pakfire/lib/functions.pl): empty
   * /opt/pakfire/tmp, unpack the .ipfire there, run NAME=igmpproxy ./<action>.sh in it, and
   * on success record (or for uninstall forget) db/rootfiles and db/installed/meta.
   * `before` and `after` run in the same namespaces around it, e.g. to look at a daemon the
   * script started (it dies with the run).
   */
  async pakfire(action: PakfireAction, ipfire: string, meta: string, after = '', before = ''): Promise<ExecResult> {
    await copyFile(ipfire, path.join(this.root, 'opt/pakfire/cache/package.ipfire'));
    await copyFile(meta, path.join(this.root, 'opt/pakfire/cache/meta-igmpproxy'));
    const script = `
set -u
${before}
rm -rf /opt/pakfire/tmp && mkdir -p /opt/pakfire/tmp && cd /opt/pakfire/tmp || exit 90
tar xf /opt/pakfire/cache/package.ipfire || exit 91
NAME=igmpproxy ./${action}.sh
rc=$?
if [ "$rc" = 0 ]; then
  case ${action} in
    install|update)
      mv ROOTFILES /opt/pakfire/db/rootfiles/igmpproxy
      cp /opt/pakfire/cache/meta-igmpproxy /opt/pakfire/db/installed/meta-igmpproxy ;;
    uninstall)
      rm -f /opt/pakfire/db/rootfiles/igmpproxy /opt/pakfire/db/installed/meta-igmpproxy ;;
  esac
  cd / && rm -rf /opt/pakfire/tmp && mkdir /opt/pakfire/tmp
fi
${after}
exit "$rc"
`;
    return this.run(script);
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls inside the same run until the daemon's pidfile exists (bounded: 5 s). */
export const WAIT_FOR_PIDFILE = `
for _ in $(seq 50); do [ -s /var/run/igmpproxy.pid ] && break; sleep 0.1; done
`;
