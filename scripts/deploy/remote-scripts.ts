// The POSIX sh scripts the deploy runs on the appliance. They are constants: every variable
// part (package name, staging dir, file names) arrives as a positional parameter through
// shellScriptCommand(), so nothing from the user or the file system is pasted into code.
// Paths are pakfire's [src/pakfire/pakfire.conf, lib/functions.pl]: tmp, db, logs, and the
// lock file /tmp/pakfire_lock whose mere existence means "pakfire is running".
import { shellScriptCommand } from './quote.ts';

export const PAKFIRE_DIR = '/opt/pakfire';
export const PAKFIRE_TMP = '/opt/pakfire/tmp';
export const PAKFIRE_LOCK = '/tmp/pakfire_lock';
/** Uploads go to a fresh directory here (on the root file system, outside pakfire's tmp). */
export const STAGING_PARENT = '/var/tmp';
export const STAGING_PREFIX = 'igmpproxy-deploy.';

const PRELUDE = `PATH=/bin:/usr/bin:/sbin:/usr/sbin; export PATH; LC_ALL=C; export LC_ALL
db=/opt/pakfire/db; tmpdir=/opt/pakfire/tmp; logdir=/opt/pakfire/logs; lock=/tmp/pakfire_lock
`;

/** Facts about the appliance, one `key=value` per line. $1 = package name. */
const PREFLIGHT = `${PRELUDE}name=$1
say() { printf '%s=%s\\n' "$1" "$2"; }
if [ -r /etc/system-release ]; then say release "$(head -n 1 /etc/system-release)"; else say release ''; fi
if [ -d /opt/pakfire ]; then say pakfire yes; else say pakfire no; fi
say arch "$(uname -m)"
for tool in tar xz sha256sum stat find; do command -v "$tool" >/dev/null 2>&1 || say missing_tool "$tool"; done
free() { if [ -d "$2" ]; then say "$1" "$(stat -f -c '%a %S' "$2" 2>/dev/null)"; else say "$1" missing; fi; }
free free_tmp "$tmpdir"
free free_root /
free free_staging ${STAGING_PARENT}
if [ -e "$lock" ]; then say lock held; else say lock free; fi
if [ -f "$db/installed/meta-$name" ]; then
  say installed yes
  sed -n -e 's/^ProgVersion: */installed_version=/p' -e 's/^Release: */installed_release=/p' "$db/installed/meta-$name"
else
  say installed no
fi
`;

export function preflightCommand(name: string): string {
  return shellScriptCommand(PREFLIGHT, 'deploy-preflight', [name]);
}

/** Creates the private upload directory; $1 = its path. Also drops leftovers of runs cut off more than a day ago. */
const MAKE_STAGING = `${PRELUDE}find ${STAGING_PARENT} -maxdepth 1 -name '${STAGING_PREFIX}*' -mtime +0 -exec rm -rf {} + 2>/dev/null
mkdir -m 700 -- "$1"
`;

export function makeStagingCommand(stagingDir: string): string {
  return shellScriptCommand(MAKE_STAGING, 'deploy-staging', [stagingDir]);
}

export function removeStagingCommand(stagingDir: string): string {
  return shellScriptCommand(`rm -rf -- "$1"`, 'deploy-cleanup', [stagingDir]);
}

/** sha256 of a file read on stdin, so odd file names cannot change sha256sum's output format. */
export function sha256Command(remoteFile: string): string {
  return shellScriptCommand(`PATH=/bin:/usr/bin; sha256sum < "$1"`, 'deploy-sha256', [remoteFile]);
}

/**
 * Common part of install/update/uninstall: take pakfire's lock, check the uploaded package
 * completely in a scratch dir (members, xz integrity, payload tar readable) BEFORE touching
 * anything of the installed version, then empty pakfire's tmp and unpack there.
 * $1 name, $2 staging dir, $3 package file name in $2.
 * HUP and PIPE are ignored: once started, the step finishes (and records, or not) even if the
 * SSH connection drops, so the appliance is never left between the script and the db records.
 * Exit codes: 0 ok, 10 refused before any change, 11 the package's script failed.
 */
const LOCKED_UNPACK = `${PRELUDE}trap '' HUP PIPE
name=$1 staging=$2 pkg=$3
refuse() { printf 'DEPLOY-REFUSED %s\\n' "$*"; exit 10; }
if ! (set -C; : > "$lock") 2>/dev/null; then refuse "pakfire is running ($lock exists); try again when it has finished"; fi
trap 'rm -f "$lock"' EXIT
check=$staging/check
rm -rf "$check" && mkdir "$check" || refuse "cannot create $check"
tar -xf "$staging/$pkg" -C "$check" 2>/dev/null || refuse "the uploaded package is not a readable tar archive"
for member in install.sh uninstall.sh update.sh ROOTFILES files.tar.xz; do
  [ -f "$check/$member" ] || refuse "the uploaded package has no $member"
done
xz -t "$check/files.tar.xz" 2>/dev/null || refuse "files.tar.xz in the uploaded package is damaged"
xz -dc "$check/files.tar.xz" | tar -t >/dev/null 2>&1 || refuse "files.tar.xz in the uploaded package is not a readable tar archive"
rm -rf "$check"
mkdir -p "$tmpdir" "$logdir" "$db/installed" "$db/rootfiles" || refuse "cannot create pakfire's directories"
find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} + || refuse "cannot empty $tmpdir"
if ! tar -xf "$staging/$pkg" -C "$tmpdir" 2>/dev/null; then
  find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  refuse "cannot unpack the package into $tmpdir (disk full?)"
fi
run_package_script() {
  log=$logdir/$1-$name.log
  printf '%s deploy: %s %s\\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$1" "$pkg" >> "$log"
  (cd "$tmpdir" && NAME=$name "./$1.sh") >> "$log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    # Unlike pakfire we empty tmp here too: the log keeps the story, and stale package
    # scripts in tmp only invite running them by hand.
    find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    printf 'DEPLOY-SCRIPT-FAILED %s %s\\n' "$rc" "$log"
    tail -n 20 "$log"
    exit 11
  fi
}
`;

/** $4 = install or update. On success records ROOTFILES and the meta file like pakfire, each via rename. */
const INSTALL = `${LOCKED_UNPACK}action=$4
case $action in install|update) ;; *) refuse "unknown action $action" ;; esac
run_package_script "$action"
cp "$tmpdir/ROOTFILES" "$db/rootfiles/.$name.deploy" && mv -f "$db/rootfiles/.$name.deploy" "$db/rootfiles/$name" || { printf 'DEPLOY-RECORD-FAILED rootfiles\\n'; exit 12; }
cp "$staging/meta-$name" "$db/installed/.meta-$name.deploy" && mv -f "$db/installed/.meta-$name.deploy" "$db/installed/meta-$name" || { printf 'DEPLOY-RECORD-FAILED meta\\n'; exit 12; }
find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
printf 'DEPLOY-OK %s\\n' "$log"
`;

export type InstallAction = 'install' | 'update';

export function installCommand(
  name: string,
  stagingDir: string,
  packageFileName: string,
  action: InstallAction,
): string {
  return shellScriptCommand(INSTALL, 'deploy-install', [name, stagingDir, packageFileName, action]);
}

/** Pakfire's removal: the package's uninstall.sh, then the two db records go. */
const UNINSTALL = `${LOCKED_UNPACK}[ -f "$db/installed/meta-$name" ] || { find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; printf 'DEPLOY-NOT-INSTALLED\\n'; exit 0; }
run_package_script uninstall
rm -f "$db/rootfiles/$name" "$db/installed/meta-$name"
find "$tmpdir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
printf 'DEPLOY-OK %s\\n' "$log"
`;

export function uninstallCommand(name: string, stagingDir: string, packageFileName: string): string {
  return shellScriptCommand(UNINSTALL, 'deploy-uninstall', [name, stagingDir, packageFileName]);
}

/**
 * Status sections, each introduced by a line `@@section NAME`. The daemon writes its status
 * file on SIGUSR1; we wait (bounded, 3 s) for the file to change after signalling. The pid
 * is signalled only when /proc/PID/comm names our process, the check the initscript makes
 * (initscripts/_daemon.mustache): a pid reused by another program after a crash is left
 * alone. $1 = package name, then the layout's paths and names (build/render.ts LAYOUT):
 * $2 initscript, $3 pidfile, $4 status file, $5 process name, $6 $7 IPFire's IPTV chains.
 */
const STATUS = `${PRELUDE}name=$1 initscript=$2 pidfile=$3 statusfile=$4 process=$5 iptvinput=$6 iptvforward=$7
section() { printf '@@section %s\\n' "$1"; }
section service
if [ -f "$initscript" ]; then "$initscript" status 2>&1; printf '@@rc %s\\n' "$?"; else printf '@@missing %s\\n' "$initscript"; fi
section meta
cat "$db/installed/meta-$name" 2>/dev/null
section daemon
stamp() { stat -c '%y' "$statusfile" 2>/dev/null; }
pid=$(head -n 1 "$pidfile" 2>/dev/null)
comm=
case $pid in
  ''|*[!0-9]*) printf '@@nopid %s\\n' "$pidfile" ;;
  *)
    { read -r comm < "/proc/$pid/comm"; } 2>/dev/null
    before=$(stamp)
    if [ "$comm" != "$process" ]; then
      printf '@@deadpid %s\\n' "$pid"
    elif kill -USR1 "$pid" 2>/dev/null; then
      tries=0
      while [ "$tries" -lt 30 ] && [ "$(stamp)" = "$before" ]; do sleep 0.1; tries=$((tries + 1)); done
      if [ "$(stamp)" = "$before" ]; then printf '@@stale\\n'; else printf '@@fresh\\n'; fi
    else
      printf '@@deadpid %s\\n' "$pid"
    fi
    ;;
esac
section statusfile
# A line break after the file: without a final one, the next marker would join its last line
# (the empty line this adds to a file that has one is dropped when the sections are split).
if [ -f "$statusfile" ]; then cat "$statusfile"; printf '\\n'; else printf '@@absent %s\\n' "$statusfile"; fi
section iptvinput
iptables -S "$iptvinput" 2>&1; printf '@@rc %s\\n' "$?"
section iptvforward
iptables -S "$iptvforward" 2>&1; printf '@@rc %s\\n' "$?"
`;

/** The appliance paths and names the status query reads (a subset of build/render.ts LAYOUT). */
export interface StatusLayout {
  readonly name: string;
  readonly initscript: string;
  readonly pidfile: string;
  readonly statusFile: string;
  readonly processName: string;
  readonly iptvInput: string;
  readonly iptvForward: string;
}

export function statusCommand(layout: StatusLayout): string {
  return shellScriptCommand(STATUS, 'deploy-status', [
    layout.name,
    layout.initscript,
    layout.pidfile,
    layout.statusFile,
    layout.processName,
    layout.iptvInput,
    layout.iptvForward,
  ]);
}
