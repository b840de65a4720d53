// The real daemon for tests that need only its configuration side (--check,
// --list-interfaces, setup): the built single binary when `npm run build` made one,
// otherwise the TypeScript entry on the pinned Node (no build needed).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../build/repository.ts';
import { testNode } from '../../scripts/lab/test-node.ts';

const shellWord = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

/** The single binary the build writes for this machine. */
export const BUILT_DAEMON = path.join(REPOSITORY_ROOT, 'dist', 'x86_64', 'igmpproxy');

/** Argument vector that runs the real daemon (append its arguments). */
export function realDaemonCommand(): readonly string[] {
  if (existsSync(BUILT_DAEMON)) return [BUILT_DAEMON];
  return [...testNode, path.join(REPOSITORY_ROOT, 'addon', 'daemon', 'main.ts')];
}

/** The same as a shell command line (every word single-quoted), for wrapper scripts. */
export function realDaemonShellCommand(): string {
  return realDaemonCommand().map(shellWord).join(' ');
}

/** Where the test appliances mount the repository (read-only) and put the daemon's launcher. */
export const APPLIANCE_REAL_DAEMON_DIR = '/opt/igmpproxy-test';
const MOUNTED_REPOSITORY = `${APPLIANCE_REAL_DAEMON_DIR}/repo`;

/**
 * The launcher an appliance root holds at /opt/igmpproxy-test/igmpproxy: the real daemon
 * from the repository the appliance mounts at /opt/igmpproxy-test/repo
 * (applianceRepositoryMount).
 */
export function applianceDaemonLauncher(): string {
  const inside = realDaemonCommand().map((word) =>
    word.startsWith(`${REPOSITORY_ROOT}/`) ? `${MOUNTED_REPOSITORY}/${path.relative(REPOSITORY_ROOT, word)}` : word,
  );
  return `#!/bin/bash\n# The real igmpproxy daemon of this test appliance (test/helpers/real-daemon.ts).\nexec ${inside.map(shellWord).join(' ')} "$@"\n`;
}

/**
 * Shell lines (for a private mount namespace) that mount the repository read-only into the
 * appliance root held in the shell variable ROOT_VARIABLE.
 */
export function applianceRepositoryMount(rootVariable: string): string {
  const target = `"$${rootVariable}"${shellWord(MOUNTED_REPOSITORY)}`;
  return [
    `mkdir -p ${target}`,
    `mount --bind ${shellWord(REPOSITORY_ROOT)} ${target}`,
    `mount -o remount,bind,ro ${target}`,
  ].join('\n');
}
