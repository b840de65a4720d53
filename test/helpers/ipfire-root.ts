// The one stand-in IPFire tree of the package and deploy tests (test/package/appliance.ts
// runs scripts in it with chroot, test/deploy/helpers/appliance-sshd.ts serves it with a real
// OpenSSH server). Built from IPFire's own files where they exist (test/fixtures/ipfire/: rc
// configuration and functions, the run-time mounts, the /var/run link, addonctrl); stand-ins, said so in each
// file, for what needs a whole IPFire: Pakfire's functions.sh and backupctrl
// (test/fixtures/appliance/), update-lang-cache and red.up/10-multicast (here). /usr is an
// overlay of the machine's /usr (upper layer: `usrUpper`), with IPFire's legacy iptables as
// /sbin/iptables; the real daemon for --check/--list-interfaces/setup is the repository's,
// mounted read-only (test/helpers/real-daemon.ts).
import { chmod, copyFile, cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../build/repository.ts';
import { ipfireMountCommands, ipfireVarRunLink } from '../package/ipfire-mounts.ts';
import { ADDONCTRL, buildAddonctrl } from './addonctrl.ts';
import { APPLIANCE_REAL_DAEMON_DIR, applianceDaemonLauncher, applianceRepositoryMount } from './real-daemon.ts';
import { STANDIN_LINK, STANDIN_LINK_TARGET } from './standin-launcher.ts';

const IPFIRE = path.join(REPOSITORY_ROOT, 'test/fixtures/ipfire');
/** Stand-ins for the parts of IPFire that are not vendored (Pakfire's functions, backupctrl). */
export const APPLIANCE_STANDINS = path.join(REPOSITORY_ROOT, 'test/fixtures/appliance');

/** IPFire's nobody (user and group 99): the web UI runs as it. */
export const NOBODY_ID = 99;

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
  'var/log',
  'proc',
  'dev',
  'sys',
  'run',
  'usr',
];

/** The target of /bin/sh on IPFire, from its build step lfs/bash (`ln -svf bash /bin/sh`). */
export function ipfireShLink(): string {
  const text = readFileSync(path.join(IPFIRE, 'lfs-bash'), 'utf8');
  const links = [...text.matchAll(/^\s*ln\s+-\w+\s+(\S+)\s+\/bin\/sh\s*$/gm)].map((match) => match[1]!);
  if (links.length !== 1) throw new Error(`lfs-bash: expected one 'ln ... /bin/sh' line, found ${links.length}`);
  return links[0]!;
}

async function install(source: string, target: string, mode: number): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await copyFile(source, target);
  await chmod(target, mode);
}

/**
 * Builds the tree at `root` (which must not exist yet, or be empty) and the files it adds
 * to /usr in `usrUpper` (the overlay's upper layer). Directories are 0755 and root's, as
 * sshd's ChrootDirectory demands.
 */
export async function buildIpfireRoot(root: string, usrUpper: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o755 });
  for (const sub of DIRECTORIES) await mkdir(path.join(root, sub), { recursive: true, mode: 0o755 });
  for (const sub of ['tmp', 'var/tmp']) {
    await mkdir(path.join(root, sub), { recursive: true });
    await chmod(path.join(root, sub), 0o1777);
  }
  await mkdir(path.join(root, 'root'), { mode: 0o700 });
  for (const link of ['bin', 'sbin', 'lib', 'lib64']) {
    if (existsSync(`/${link}`)) await symlink(`usr/${link}`, path.join(root, link));
  }
  await symlink('rc.d/init.d', path.join(root, 'etc/init.d'));
  await symlink(ipfireVarRunLink(), path.join(root, 'var/run'));

  // Host bits the machine's /usr needs inside the root: alternatives symlinks (awk,
  // iptables...), protocol names (iptables -p igmp), the loader cache.
  await cp('/etc/alternatives', path.join(root, 'etc/alternatives'), { recursive: true, verbatimSymlinks: true });
  for (const file of ['/etc/protocols', '/etc/ld.so.cache']) {
    if (existsSync(file)) await copyFile(file, path.join(root, file));
  }
  await writeFile(
    path.join(root, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/bash\nnobody:x:${NOBODY_ID}:${NOBODY_ID}:nobody:/home/nobody:/bin/false\n`,
  );
  await writeFile(path.join(root, 'etc/group'), `root:x:0:\nnobody:x:${NOBODY_ID}:\n`);
  await writeFile(path.join(root, 'etc/system-release'), 'IPFire 2.29 (x86_64) - core199\n');

  // IPFire's /bin/sh is bash (its initscripts and the rc functions rely on it).
  await mkdir(path.join(usrUpper, 'bin'), { recursive: true, mode: 0o755 });
  await symlink(ipfireShLink(), path.join(usrUpper, 'bin/sh'));
  // IPFire's own rc configuration and functions.
  await install(path.join(IPFIRE, 'sysconfig-rc'), path.join(root, 'etc/sysconfig/rc'), 0o644);
  await install(path.join(IPFIRE, 'functions'), path.join(root, 'etc/rc.d/init.d/functions'), 0o644);
  // STAND-INS for Pakfire's helper functions and backupctrl.
  await install(
    path.join(APPLIANCE_STANDINS, 'pakfire-functions.sh'),
    path.join(root, 'opt/pakfire/lib/functions.sh'),
    0o644,
  );
  await install(path.join(APPLIANCE_STANDINS, 'backupctrl'), path.join(usrUpper, 'local/bin/backupctrl'), 0o755);
  // STAND-IN for IPFire's update-lang-cache (rebuilds the web UI's strings): records each run.
  await mkdir(path.join(usrUpper, 'local/bin'), { recursive: true, mode: 0o755 });
  await writeFile(
    path.join(usrUpper, 'local/bin/update-lang-cache'),
    "#!/bin/bash\n# STAND-IN for IPFire's update-lang-cache\necho run >> /var/log/update-lang-cache.runs\n",
    { mode: 0o755 },
  );
  // IPFire's real addonctrl, setuid root and group nobody as on the box.
  await buildAddonctrl(path.join(usrUpper, ADDONCTRL.slice('/usr/'.length)), NOBODY_ID);
  // IPFire runs legacy iptables as /sbin/iptables and /sbin/iptables-restore.
  await mkdir(path.join(usrUpper, 'sbin'), { recursive: true, mode: 0o755 });
  await symlink('xtables-legacy-multi', path.join(usrUpper, 'sbin/iptables'));
  await symlink('xtables-legacy-multi', path.join(usrUpper, 'sbin/iptables-restore'));
  // STAND-IN for IPFire's own red.up hook that ours must follow.
  await writeFile(
    path.join(root, 'etc/rc.d/init.d/networking/red.up/10-multicast'),
    "#!/bin/bash\n# STAND-IN for IPFire's red.up/10-multicast\nexit 0\n",
    { mode: 0o754 },
  );

  // The real daemon, which the test packages' stand-in binary hands all but running to.
  await mkdir(path.join(root, APPLIANCE_REAL_DAEMON_DIR, 'repo'), { recursive: true, mode: 0o755 });
  await writeFile(path.join(root, APPLIANCE_REAL_DAEMON_DIR, 'igmpproxy'), applianceDaemonLauncher(), { mode: 0o755 });
  // What the test packages' compiled launcher execs (test/helpers/standin-launcher.ts).
  await mkdir(path.join(root, path.dirname(STANDIN_LINK)), { recursive: true, mode: 0o755 });
  await symlink(STANDIN_LINK_TARGET, path.join(root, STANDIN_LINK));
}

/**
 * Shell lines for a private mount namespace that make the tree in "$<rootVariable>" a
 * running IPFire's: /usr as an overlay (upper and work directories in the named variables),
 * /proc, /dev, /sys, IPFire's run-time tmpfs mounts, the repository for the real daemon.
 */
export function ipfireRootMounts(rootVariable: string, upperVariable: string, workVariable: string): string {
  return `mount -t overlay ipfire-usr -o "lowerdir=/usr,upperdir=$${upperVariable},workdir=$${workVariable}" "$${rootVariable}/usr"
mount -t proc ipfire-proc "$${rootVariable}/proc"
mount --rbind /dev "$${rootVariable}/dev"
mount --rbind /sys "$${rootVariable}/sys"
${ipfireMountCommands(rootVariable)}
${applianceRepositoryMount(rootVariable)}`;
}

/**
 * What the package installs under /usr, which the machine's /usr may hold from Debian's
 * igmpproxy: each harness removes these once through the overlay (the whiteouts stay).
 */
export const MACHINE_IGMPPROXY_PATHS = ['/usr/sbin/igmpproxy', '/usr/lib/igmpproxy', '/usr/share/igmpproxy'] as const;
