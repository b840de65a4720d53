// IPFire's real addonctrl (src/misc-progs/addonctrl.c with setuid.c, vendored unchanged in
// test/fixtures/ipfire/misc-progs/), compiled with the machine's gcc for the stand-in IPFire
// roots. On IPFire it is /usr/local/bin/addonctrl, setuid root, group nobody, mode 4750
// (src/misc-progs/Makefile): the web UI (user nobody) starts, stops and reloads an add-on's
// services with it. It reads the add-on's services from the `Services:` line of
// /opt/pakfire/db/installed/meta-<addon> and runs /etc/rc.d/init.d/<service> <action>, so the
// tests run it where the stand-in root is / (chroot or mount namespace).
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../build/repository.ts';

const SOURCES = path.join(REPOSITORY_ROOT, 'test/fixtures/ipfire/misc-progs');

/** Where IPFire installs it. */
export const ADDONCTRL = '/usr/local/bin/addonctrl';

/** IPFire's install mode for its setuid helpers (src/misc-progs/Makefile: install -m 4750 -g nobody). */
export const ADDONCTRL_MODE = 0o4750;

/** Why addonctrl cannot be built here, or undefined when it can. */
export function addonctrlPrerequisiteMissing(): string | undefined {
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is missing (bash scripts/dev.sh test installs it)';
  return undefined;
}

/**
 * Compiles addonctrl into `file` (as IPFire's Makefile does, minus -lsmooth -lnewt, which
 * addonctrl does not use; _GNU_SOURCE for asprintf as IPFire's toolchain defaults give it)
 * and installs it as IPFire does: owner root, the given group, mode 4750.
 */
export async function buildAddonctrl(file: string, group: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const result = spawnSync(
    'gcc',
    ['-O2', '-D_GNU_SOURCE', '-o', file, path.join(SOURCES, 'addonctrl.c'), path.join(SOURCES, 'setuid.c')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0)
    throw new Error(`gcc addonctrl.c setuid.c failed: ${result.error?.message ?? result.stderr}`);
  await chown(file, 0, group);
  await chmod(file, ADDONCTRL_MODE);
}
