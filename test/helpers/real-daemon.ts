// The real daemon for tests that need only its configuration side (--check,
// --list-interfaces, setup): the built single binary when `npm run build` made one,
// otherwise the TypeScript entry on the pinned Node (no build needed).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../build/repository.ts';
import { testNode } from './test-node.ts';

/** The single binary the build writes for this machine. */
export const BUILT_DAEMON = path.join(REPOSITORY_ROOT, 'dist', 'x86_64', 'igmpproxy');

/** Argument vector that runs the real daemon (append its arguments). */
export function realDaemonCommand(): readonly string[] {
  if (existsSync(BUILT_DAEMON)) return [BUILT_DAEMON];
  return [...testNode, path.join(REPOSITORY_ROOT, 'addon', 'daemon', 'main.ts')];
}

/** The same as a shell command line (every word single-quoted), for wrapper scripts. */
export function realDaemonShellCommand(): string {
  return realDaemonCommand().map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
}
