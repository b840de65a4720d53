// A small but format-faithful Pakfire package for the deploy tests (written from the facts in
// /work/shared/docs/ipfire-addon.md): an uncompressed pax tar holding install.sh,
// uninstall.sh, update.sh (0744), ROOTFILES and files.tar.xz (payload relative to /, owner 0),
// plus the meta file. The "daemon" is a shell stand-in that writes a pid file and answers
// SIGUSR1 with a JSON status file; an ELF file in the payload carries the architecture.
// Every path, name, chain and boot-link number comes from the build's layout (LAYOUT in
// build/render.ts), so this package lands where the real one does.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { LAYOUT } from '../../../build/render.ts';
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

const { name, daemon, pidfile, statusFile, initscript, config, defaultConfig, backupInclude } = LAYOUT;
const { chainIn, chainFwd, iptvInput, iptvForward, startNumber, stopNumber } = LAYOUT;
/** A path of the layout as a payload member (relative to /). */
const member = (absolute: string): string => absolute.replace(/^\/+/, '');
/** The directory of the package's own files (the firewall helper's, here the ELF file's). */
const LIB_DIR = path.posix.dirname(LAYOUT.firewallHelper);
const SHARE_DIR = path.posix.dirname(defaultConfig);

const DAEMON = (version: string): string => `#!/bin/sh
# STAND-IN ${name} daemon for the deploy tests, version ${version}.
if [ "$1" = --version ]; then echo "${name} ${version}"; exit 0; fi
echo $$ > ${pidfile}
write_status() {
  cat > ${statusFile}.new <<'STATUS'
${JSON.stringify(sampleStatus(version))}
STATUS
  mv -f ${statusFile}.new ${statusFile}
}
trap write_status USR1
trap 'rm -f ${pidfile}; exit 0' TERM
# Bounded lifetime (15 min) so a forgotten test daemon ends by itself.
i=0
while [ "$i" -lt 900 ]; do sleep 1 & wait $!; i=$((i + 1)); done
`;

// IPFire's statusproc takes only the program and finds the pidfile through PIDFILE (its
// pidofproc loops for ever on a lone "-p", which once hung the status tests).
const INITSCRIPT = `#!/bin/sh
# Initscript of the stand-in daemon.
. /etc/sysconfig/rc
. \${rc_functions}
PIDFILE=${pidfile}
case "\${1}" in
	start) boot_mesg "Starting ${name}..."; loadproc -b -p ${pidfile} ${daemon}; evaluate_retval ;;
	stop) boot_mesg "Stopping ${name}..."; killproc -p ${pidfile} ${daemon}; evaluate_retval ;;
	restart) \${0} stop; \${0} start ;;
	status) statusproc ${daemon} ;;
	*) echo "Usage: \${0} {start|stop|restart|status}"; exit 1 ;;
esac
`;

const INSTALL = (failing: boolean): string => `#!/bin/bash
. /opt/pakfire/lib/functions.sh
[ -e /tmp/pakfire_lock ] && echo "install.sh: pakfire's lock is held"
extract_files || exit 1
${failing ? 'echo "install.sh: simulated failure after extracting"; exit 4\n' : ''}[ -e ${config} ] || restore_backup "\${NAME}"
[ -e ${config} ] || install -m 0644 ${defaultConfig} ${config} || exit 1
mkdir -p /etc/rc.d/rc3.d /etc/rc.d/rc0.d /etc/rc.d/rc6.d
ln -sfn ../init.d/${name} /etc/rc.d/rc3.d/S${startNumber}${name}
ln -sfn ../init.d/${name} /etc/rc.d/rc0.d/K${stopNumber}${name}
ln -sfn ../init.d/${name} /etc/rc.d/rc6.d/K${stopNumber}${name}
iptables -S ${chainIn} >/dev/null 2>&1 || iptables -N ${chainIn}
iptables -S ${chainFwd} >/dev/null 2>&1 || iptables -N ${chainFwd}
iptables -C ${iptvInput} -j ${chainIn} 2>/dev/null || iptables -A ${iptvInput} -j ${chainIn}
iptables -C ${iptvForward} -j ${chainFwd} 2>/dev/null || iptables -A ${iptvForward} -j ${chainFwd}
start_service "\${NAME}"
`;

const UNINSTALL = `#!/bin/bash
. /opt/pakfire/lib/functions.sh
stop_service "\${NAME}"
make_backup "\${NAME}"
iptables -D ${iptvInput} -j ${chainIn} 2>/dev/null
iptables -D ${iptvForward} -j ${chainFwd} 2>/dev/null
rm -f /etc/rc.d/rc[0-6].d/[SK][0-9][0-9]${name}
remove_files
`;

const UPDATE = (failing: boolean): string => `#!/bin/bash
. /opt/pakfire/lib/functions.sh
${failing ? 'echo "update.sh: simulated failure before any change"; exit 3\n' : ''}extract_backup_includes
./uninstall.sh
./install.sh
`;

/** What the package lists for Pakfire to remove, sorted like build/package.ts sorts it. */
export const TEST_PACKAGE_ROOTFILES: readonly string[] = [
  member(initscript),
  member(LIB_DIR),
  member(daemon),
  member(SHARE_DIR),
  member(backupInclude),
].sort();

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
    write(payload, member(daemon), DAEMON(options.version), 0o755);
    write(payload, member(initscript), INITSCRIPT, 0o754);
    write(payload, member(defaultConfig), `# default configuration ${options.version}\nquickleave\n`, 0o644);
    write(payload, member(backupInclude), `${config}\n`, 0o644);
    if (options.elfMachine !== null) {
      const elf = Buffer.from(readFileSync('/usr/bin/true'));
      if (options.elfMachine !== undefined) elf.writeUInt16LE(options.elfMachine, 18);
      write(payload, `${member(LIB_DIR)}/igmp_shim.node`, elf, 0o644);
    }
    if (options.fillerBytes) write(payload, `${member(LIB_DIR)}/filler.bin`, randomBytes(options.fillerBytes), 0o644);

    const payloadTar = path.join(work, 'files.tar');
    await create({ cwd: payload, file: payloadTar, portable: true }, ['etc', 'usr', 'var']);
    run('xz', ['-T1', '-0', '-f', payloadTar]);
    run('mv', [`${payloadTar}.xz`, path.join(outer, 'files.tar.xz')]);
    write(outer, 'install.sh', INSTALL(options.failingInstall ?? false), 0o744);
    write(outer, 'uninstall.sh', UNINSTALL, 0o744);
    write(outer, 'update.sh', UPDATE(options.failingUpdate ?? false), 0o744);
    write(outer, 'ROOTFILES', `${TEST_PACKAGE_ROOTFILES.join('\n')}\n`, 0o644);

    mkdirSync(options.outDir, { recursive: true });
    const fileName = options.fileName ?? `${name}-${options.version}-${release}.ipfire`;
    const ipfire = path.join(options.outDir, fileName);
    // Written under a plain name first: the file name may be deliberately hostile.
    const plain = path.join(work, 'package.ipfire');
    await create({ cwd: outer, file: plain, portable: true, noDirRecurse: true }, [
      'install.sh',
      'uninstall.sh',
      'update.sh',
      'ROOTFILES',
      'files.tar.xz',
    ]);
    copyFileSync(plain, ipfire);
    const meta = path.join(options.outDir, `meta-${name}`);
    writeFileSync(
      meta,
      [
        `Name: ${name}`,
        'Summary: IGMP proxy for IPTV',
        `ProgVersion: ${options.version}`,
        `Release: ${release}`,
        `Size: ${statSync(ipfire).size}`,
        'Dependencies: ',
        `File: ${fileName}`,
        `Services: ${name}`,
        '',
      ].join('\n'),
    );
    return { ipfire, meta, version: options.version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
