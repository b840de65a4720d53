// Where the repository is, and what its package.json says: the one place that knows both.
// Build steps, scripts and tests import REPOSITORY_ROOT from here instead of counting
// '..' from their own location. (scripts/node24.mjs is the exception: it runs on the
// machine's own Node, which cannot load TypeScript, and finds the root the same way.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../addon/daemon/error-message.ts';

/** The repository's top directory (this file is build/repository.ts). */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The fields of package.json the build, the templates and the tests use. */
export interface PackageManifest {
  readonly name: string;
  /** Plain N.N.N. */
  readonly version: string;
  /** IPFire's package release (ipfire.release), a positive integer. */
  readonly release: number;
  /** One line for pakfire (ipfire.summary). */
  readonly summary: string;
  readonly devDependencies: Readonly<Record<string, unknown>>;
}

/** Reads and checks package.json; a missing or wrong field is an Error naming it. */
export function readPackageManifest(root: string = REPOSITORY_ROOT): PackageManifest {
  const file = path.join(root, 'package.json');
  let json: {
    name?: unknown;
    version?: unknown;
    ipfire?: { release?: unknown; summary?: unknown };
    devDependencies?: unknown;
  };
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as typeof json;
  } catch (error) {
    throw new Error(`${file}: ${errorMessage(error)}`, { cause: error });
  }
  const { name, version } = json;
  const release = json.ipfire?.release;
  const summary = json.ipfire?.summary;
  if (typeof name !== 'string' || typeof version !== 'string' || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error('package.json: "name" and a plain "version" (N.N.N) are required');
  }
  if (typeof release !== 'number' || !Number.isInteger(release) || release < 1) {
    throw new Error('package.json: "ipfire.release" must be a positive integer');
  }
  if (typeof summary !== 'string') throw new Error('package.json: "ipfire.summary" must be a text');
  const devDependencies =
    typeof json.devDependencies === 'object' && json.devDependencies !== null
      ? (json.devDependencies as Record<string, unknown>)
      : {};
  return { name, version, release, summary, devDependencies };
}
