// A small but format-faithful Pakfire package for the deploy tests (written from the facts in
// /work/shared/docs/ipfire-addon.md): an uncompressed pax tar holding install.sh,
// uninstall.sh, update.sh (0744), ROOTFILES and files.tar.xz (payload relative to /, owner 0),
// plus the meta file. The "daemon" is a shell stand-in that writes a pid file and answers
// SIGUSR1 with a JSON status file; an ELF file in the payload carries the architecture.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { sampleStatus } from './sample-status.ts';

export interface TestPackageOptions {
  readonly outDir: string;
  readonly version: string;
  readonly release?: number;
  /** ELF e_machine to stamp into the payload's binary (default: the one of /usr/bin/true); null: no ELF file at all. */
  readonly elfMachine?: number | null;
  /** install.sh fails after extracting its files. */
  readonly failingInstall?: boolean;
  /** Random, incompressible payload bytes (to make uploads take a while). */
  readonly fillerBytes?: number;
  /** update.sh fails before changing anything. */
  readonly failingUpdate?: boolean;
  /** Name of the .ipfire file (default NAME-VERSION-RELEASE.ipfire). */
  readonly fileName?: string;
}

export interface TestPackage {
  readonly ipfire: string;
  readonly meta: string;
  readonly version: string;
}

const DAEMON = (version: string): string => `#!/bin/sh
# STAND-IN igmpproxy daemon for the deploy tests, version ${version}.
if [ "$1" = --version ]; then echo "igmpproxy ${version}"; exit 0; fi
echo $$ > /var/run/igmpproxy.pid
write_status() {
  cat > /var/run/igmpproxy.status.new <<'STATUS'
${JSON.stringify(sampleStatus(version))}
STATUS
  mv -f /var/run/igmpproxy.status.new /var/run/igmpproxy.status
}
trap write_status USR1
trap 'rm -f /var/run/igmpproxy.pid; exit 0' TERM
# Bounded lifetime (15 min) so a forgotten test daemon ends by itself.
i=0
while [ "$i" -lt 900 ]; do sleep 1 & wait $!; i=$((i + 1)); done
`;

const INITSCRIPT = `#!/bin/sh
# Initscript of the stand-in daemon.
. /etc/sysconfig/rc
. \${rc_functions}
case "\${1}" in
	start) boot_mesg "Starting igmpproxy..."; loadproc -b -p /var/run/igmpproxy.pid /usr/sbin/igmpproxy; evaluate_retval ;;
	stop) boot_mesg "Stopping igmpproxy..."; killproc -p /var/run/igmpproxy.pid /usr/sbin/igmpproxy; evaluate_retval ;;
	restart) \${0} stop; \${0} start ;;
	status) statusproc -p /var/run/igmpproxy.pid /usr/sbin/igmpproxy ;;
	*) echo "Usage: \${0} {start|stop|restart|status}"; exit 1 ;;
esac
`;

const INSTALL = (failing: boolean): string => `#!/bin/bash
. /opt/pakfire/lib/functions.sh
[ -e /tmp/pakfire_lock ] && echo "install.sh: pakfire's lock is held"
extract_files || exit 1
${failing ? 'echo "install.sh: simulated failure after extracting"; exit 4\n' : ''}[ -e /etc/igmpproxy.conf ] || restore_backup "\${NAME}"
[ -e /etc/igmpproxy.conf ] || install -m 0644 /usr/lib/igmpproxy/igmpproxy.conf.default /etc/igmpproxy.conf || exit 1
mkdir -p /etc/rc.d/rc3.d /etc/rc.d/rc0.d /etc/rc.d/rc6.d
ln -sfn ../init.d/igmpproxy /etc/rc.d/rc3.d/S65igmpproxy
ln -sfn ../init.d/igmpproxy /etc/rc.d/rc0.d/K35igmpproxy
ln -sfn ../init.d/igmpproxy /etc/rc.d/rc6.d/K35igmpproxy
iptables -S IGMPPROXY_IN >/dev/null 2>&1 || iptables -N IGMPPROXY_IN
iptables -S IGMPPROXY_FWD >/dev/null 2>&1 || iptables -N IGMPPROXY_FWD
iptables -C IPTVINPUT -j IGMPPROXY_IN 2>/dev/null || iptables -A IPTVINPUT -j IGMPPROXY_IN
iptables -C IPTVFORWARD -j IGMPPROXY_FWD 2>/dev/null || iptables -A IPTVFORWARD -j IGMPPROXY_FWD
start_service "\${NAME}"
`;

const UNINSTALL = `#!/bin/bash
. /opt/pakfire/lib/functions.sh
stop_service "\${NAME}"
make_backup "\${NAME}"
iptables -D IPTVINPUT -j IGMPPROXY_IN 2>/dev/null
iptables -D IPTVFORWARD -j IGMPPROXY_FWD 2>/dev/null
rm -f /etc/rc.d/rc[0-6].d/[SK][0-9][0-9]igmpproxy
remove_files
`;

const UPDATE = (failing: boolean): string => `#!/bin/bash
. /opt/pakfire/lib/functions.sh
${failing ? 'echo "update.sh: simulated failure before any change"; exit 3\n' : ''}extract_backup_includes
./uninstall.sh
./install.sh
`;

const ROOTFILES = [
  'etc/rc.d/init.d/igmpproxy',
  'usr/lib/igmpproxy',
  'usr/sbin/igmpproxy',
  'var/ipfire/backup/addons/includes/igmpproxy',
];

function write(root: string, relative: string, content: string | Buffer, mode: number): void {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr?.toString()}`);
}

export async function buildTestPackage(options: TestPackageOptions): Promise<TestPackage> {
  const release = options.release ?? 100;
  const work = mkdtempSync(path.join(tmpdir(), 'ipd7-pkg-'));
  try {
    const payload = path.join(work, 'payload');
    const outer = path.join(work, 'outer');
    mkdirSync(payload, { mode: 0o755 });
    mkdirSync(outer, { mode: 0o755 });
    write(payload, 'usr/sbin/igmpproxy', DAEMON(options.version), 0o755);
    write(payload, 'etc/rc.d/init.d/igmpproxy', INITSCRIPT, 0o754);
    write(payload, 'usr/lib/igmpproxy/igmpproxy.conf.default', `# default configuration ${options.version}\nquickleave\n`, 0o644);
    write(payload, 'var/ipfire/backup/addons/includes/igmpproxy', '/etc/igmpproxy.conf\n', 0o644);
    if (options.elfMachine !== null) {
      const elf = Buffer.from(readFileSync('/usr/bin/true'));
      if (options.elfMachine !== undefined) elf.writeUInt16LE(options.elfMachine, 18);
      write(payload, 'usr/lib/igmpproxy/igmp_shim.node', elf, 0o644);
    }
    if (options.fillerBytes) write(payload, 'usr/lib/igmpproxy/filler.bin', randomBytes(options.fillerBytes), 0o644);

    const payloadTar = path.join(work, 'files.tar');
    await create({ cwd: payload, file: payloadTar, portable: true }, ['etc', 'usr', 'var']);
    run('xz', ['-T1', '-0', '-f', payloadTar]);
    run('mv', [`${payloadTar}.xz`, path.join(outer, 'files.tar.xz')]);
    write(outer, 'install.sh', INSTALL(options.failingInstall ?? false), 0o744);
    write(outer, 'uninstall.sh', UNINSTALL, 0o744);
    write(outer, 'update.sh', UPDATE(options.failingUpdate ?? false), 0o744);
    write(outer, 'ROOTFILES', `${ROOTFILES.join('\n')}\n`, 0o644);

    mkdirSync(options.outDir, { recursive: true });
    const fileName = options.fileName ?? `igmpproxy-${options.version}-${release}.ipfire`;
    const ipfire = path.join(options.outDir, fileName);
    // Written under a plain name first: the file name may be deliberately hostile.
    const plain = path.join(work, 'package.ipfire');
    await create({ cwd: outer, file: plain, portable: true, noDirRecurse: true },
      ['install.sh', 'uninstall.sh', 'update.sh', 'ROOTFILES', 'files.tar.xz']);
    copyFileSync(plain, ipfire);
    const meta = path.join(options.outDir, 'meta-igmpproxy');
    writeFileSync(meta, [
      'Name: igmpproxy',
      'Summary: IGMP proxy for IPTV',
      `ProgVersion: ${options.version}`,
      `Release: ${release}`,
      `Size: ${statSync(ipfire).size}`,
      'Dependencies: ',
      `File: ${fileName}`,
      'Services: igmpproxy',
      '',
    ].join('\n'));
    return { ipfire, meta, version: options.version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
