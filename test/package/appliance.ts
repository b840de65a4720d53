// A throwaway IPFire-like root for running the add-on's scripts for real.
//
// The root is the stand-in IPFire tree the deploy tests serve too (test/helpers/ipfire-root.ts),
// in a temp dir; /usr is an overlay of the host's /usr whose writes land in <dir>/usr-upper, so
// the package can install /usr/sbin/igmpproxy without touching the host. Every run happens in a network namespace the test created
// (real iptables, real `ip link`), a private mount namespace and a new PID namespace: the
// daemons a run starts die with it. /run, /dev/shm and /var/lock are fresh tmpfs mounts each
// time (like a reboot) with the options IPFire's own boot scripts use (ipfire-mounts.ts: /run
// and /dev/shm noexec, /run 8 MB), and /var/run is the link to ../run that IPFire has. The
// repository is mounted read-only at /opt/igmpproxy-test/repo for the real daemon
// (test/helpers/real-daemon.ts).
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecResult, Netns } from '../../scripts/lab/netns.ts';
import { buildPackage } from '../../build/package.ts';
import {
  APPLIANCE_STANDINS,
  buildIpfireRoot,
  ipfireRootMounts,
  MACHINE_IGMPPROXY_PATHS,
  NOBODY_ID,
} from '../helpers/ipfire-root.ts';

export const FIXTURES = APPLIANCE_STANDINS;

/**
 * A real package (real scripts, real format) around the stand-in daemon binary, which hands
 * everything but running to the real daemon (test/fixtures/appliance/igmpproxy-standin);
 * quick to build. `binary` replaces the stand-in (e.g. an ELF file whose header names an
 * architecture, for the deploy tool's architecture check).
 */
export function buildStandinPackage(
  outDir: string,
  options: { arch?: 'x86_64' | 'aarch64'; version?: string; binary?: string } = {},
) {
  return buildPackage({
    arch: options.arch ?? 'x86_64',
    binary: options.binary ?? path.join(FIXTURES, 'igmpproxy-standin'),
    outDir,
    version: options.version ?? '1.0.0',
    release: 100,
    sourceDateEpoch: 1_700_000_000,
  });
}

const RUN_TIMEOUT_MS = 60_000;

export { NOBODY_ID };

/** Command prefix (inside the root) that runs the rest as nobody, as the web UI's CGIs run. */
export const AS_NOBODY = `setpriv --reuid=${NOBODY_ID} --regid=${NOBODY_ID} --clear-groups --`;

const enterScript = (): string => `#!/bin/bash
# Runs as PID 1 of a new PID namespace, in a private mount namespace.
set -eu
dir="$1"
script="$2"
root="$dir/root"
upper="$dir/usr-upper"
work="$dir/usr-work"
mount --make-rprivate /
${ipfireRootMounts('root', 'upper', 'work')}
set +e
chroot "$root" /usr/bin/env -i PATH=/bin:/usr/bin:/sbin:/usr/sbin HOME=/root COLUMNS=80 KILLDELAY=3 \\
  /bin/bash -c "$script"
exit $?
`;

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
    await mkdir(path.join(dir, 'usr-work'), { recursive: true });
    await buildIpfireRoot(root, path.join(dir, 'usr-upper'));
    await writeFile(path.join(dir, 'enter.sh'), enterScript(), { mode: 0o755 });
    const hidden = await this.run(`rm -rf ${MACHINE_IGMPPROXY_PATHS.join(' ')}`);
    if (hidden.code !== 0) throw new Error(`appliance set-up failed: ${hidden.stderr}`);
  }

  /** Copies a settings fixture root (test/fixtures/ipfire-settings/NAME) into this root. */
  async copyIpfireSettings(name: string): Promise<void> {
    await cp(path.join(FIXTURES, '../ipfire-settings', name), this.root, { recursive: true });
  }

  /** Runs a bash script inside the root (fresh PID namespace, the test's network namespace). */
  run(script: string, timeoutMs = RUN_TIMEOUT_MS): Promise<ExecResult> {
    return this.ns.exec(
      [
        'unshare',
        '--mount',
        '--pid',
        '--fork',
        '--kill-child',
        '--',
        'bash',
        path.join(this.dir, 'enter.sh'),
        this.dir,
        script,
      ],
      timeoutMs,
    );
  }

  /** Host path of a file of the root; /usr paths point into the overlay's upper layer. */
  hostPath(inside: string): string {
    if (!inside.startsWith('/')) throw new Error(`'${inside}' is not absolute`);
    if (inside === '/usr' || inside.startsWith('/usr/'))
      return path.join(this.dir, 'usr-upper', inside.slice('/usr'.length));
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
