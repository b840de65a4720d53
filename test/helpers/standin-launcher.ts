// The compiled launcher that test packages carry as /usr/sbin/igmpproxy
// (test/fixtures/appliance/igmpproxy-launcher.c): an ELF file of the package's architecture,
// as the real single binary is, which execs the stand-in daemon from the repository the
// appliance mounts. x86_64 with the machine's gcc, aarch64 with Debian's cross compiler
// (gcc-aarch64-linux-gnu, which scripts/dev.sh installs). An aarch64 launcher cannot run
// here: it is for the deploy tool's architecture choice and check only.
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../build/repository.ts';
import { APPLIANCE_REAL_DAEMON_DIR } from './real-daemon.ts';

const SOURCE = path.join(REPOSITORY_ROOT, 'test/fixtures/appliance/igmpproxy-launcher.c');

/**
 * The link inside an appliance root that the launcher execs: named like the daemon, so the
 * process it becomes has the daemon's /proc/PID/comm (buildIpfireRoot makes it).
 */
export const STANDIN_LINK = `${APPLIANCE_REAL_DAEMON_DIR}/standin/igmpproxy`;
/** Its target, relative to the link: the stand-in daemon in the mounted repository. */
export const STANDIN_LINK_TARGET = '../repo/test/fixtures/appliance/igmpproxy-standin';

const COMPILERS = { x86_64: 'x86_64-linux-gnu-gcc', aarch64: 'aarch64-linux-gnu-gcc' } as const;

/** Compiles the launcher for `arch` into `dir` (statically linked) and returns its path. */
export async function buildStandinLauncher(dir: string, arch: 'x86_64' | 'aarch64'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `igmpproxy-launcher-${arch}`);
  const compiler = COMPILERS[arch];
  const result = spawnSync(
    compiler,
    ['-Os', '-s', '-static', '-Wall', '-Werror', `-DSTANDIN_PATH="${STANDIN_LINK}"`, '-o', file, SOURCE],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0)
    throw new Error(`${compiler} igmpproxy-launcher.c failed: ${result.error?.message ?? result.stderr}`);
  return file;
}
