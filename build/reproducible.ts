// Helpers that keep build outputs a function of the commit alone: one timestamp taken
// from git (SOURCE_DATE_EPOCH), fixed file times, a neutral child-process environment.
import { execFileSync } from 'node:child_process';
import { utimes } from 'node:fs/promises';
import { FALLBACK_SOURCE_DATE_EPOCH, REPOSITORY_ROOT } from './build-config.ts';

/**
 * Seconds since the epoch of the last commit, or SOURCE_DATE_EPOCH when the caller set it
 * (reproducible-builds.org convention), or a fixed constant outside a git checkout.
 */
export function sourceDateEpoch(root: string = REPOSITORY_ROOT, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnvironment = env.SOURCE_DATE_EPOCH;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return parseEpoch(fromEnvironment, 'SOURCE_DATE_EPOCH');
  let committed: string;
  try {
    committed = execFileSync('git', ['log', '-1', '--format=%ct'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return FALLBACK_SOURCE_DATE_EPOCH; // no git, or not a checkout
  }
  return committed === '' ? FALLBACK_SOURCE_DATE_EPOCH : parseEpoch(committed, 'git log');
}

function parseEpoch(text: string, origin: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${origin}: "${text}" is not a number of seconds`);
  return Number(text);
}

/** Sets access and modification time of each path to the build epoch. */
export async function fixMtimes(paths: readonly string[], epochSeconds: number): Promise<void> {
  for (const file of paths) await utimes(file, epochSeconds, epochSeconds);
}

/**
 * Environment for build tools: the caller's PATH and HOME (npm needs them), a fixed
 * locale and time zone, SOURCE_DATE_EPOCH, and none of the NODE_* variables that would
 * change what the pinned node does while it generates the blob.
 */
export function buildEnvironment(epochSeconds: number, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {
    LC_ALL: 'C',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: String(epochSeconds),
  };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'npm_config_cache', 'npm_config_registry']) {
    const value = env[name];
    if (value !== undefined) clean[name] = value;
  }
  return clean;
}
