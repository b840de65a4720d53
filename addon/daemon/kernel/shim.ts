// Loads the N-API shim (addon/shim/igmp_shim.c). In the single binary (SEA) it is the
// asset "igmp_shim.node", loaded from an anonymous file (see loadFromAsset). Outside a SEA
// (development, tests) it is loaded from a path.
// No import.meta / require: this module runs both as ESM .ts and inside the CJS bundle.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../error-message.ts';

/** Callback for received datagrams: (null, data, ingress ifindex, source IPv4) or (error). */
export type ReceiveCallback = (
  error: NodeJS.ErrnoException | null,
  data?: Buffer,
  ifindex?: number,
  source?: number,
) => void;

/**
 * Callback for receiveBatch: (null, data, index) or (error). data holds the datagrams back to
 * back; index has four uint32 per datagram in host byte order (offset in data, length,
 * ingress ifindex, source IPv4): readBatchEntry reads them.
 */
export type ReceiveBatchCallback = (error: NodeJS.ErrnoException | null, data?: Buffer, index?: Buffer) => void;

/** Words per datagram in a receiveBatch index. */
export const BATCH_INDEX_WORDS = 4;

/** Datagrams in a receiveBatch index. */
export function batchLength(index: Buffer): number {
  return Math.floor(index.length / (4 * BATCH_INDEX_WORDS));
}

/** Word `word` (0 offset, 1 length, 2 ifindex, 3 source) of datagram `entry`; both targets are little-endian. */
export function batchWord(index: Buffer, entry: number, word: number): number {
  return index.readUInt32LE(4 * (BATCH_INDEX_WORDS * entry + word));
}

/** A receiveBatch batch as the shim makes it, for stand-in shims in tests and probes. */
export function makeBatch(datagrams: readonly { data: Uint8Array; ifindex: number; source: number }[]): {
  data: Buffer;
  index: Buffer;
} {
  const data = Buffer.concat(datagrams.map((d) => d.data));
  const index = Buffer.alloc(datagrams.length * 4 * BATCH_INDEX_WORDS);
  let offset = 0;
  datagrams.forEach((d, entry) => {
    [offset, d.data.length, d.ifindex, d.source].forEach((value, word) =>
      index.writeUInt32LE(value >>> 0, 4 * (BATCH_INDEX_WORDS * entry + word)),
    );
    offset += d.data.length;
  });
  return { data, index };
}

/** The shim's functions; errors are thrown as Error with code = errno name ("EBADF"). */
export interface IgmpShim {
  /** socket(2), always non-blocking and close-on-exec; returns the fd. */
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer): void;
  /** Returns the option bytes the kernel wrote (at most maxLength, at most 256). */
  getsockopt(fd: number, level: number, name: number, maxLength: number): Buffer;
  /** Binds a netlink socket to multicast groups (RTMGRP_* bits). */
  bindNetlink(fd: number, groups: number): void;
  /** Connects an AF_UNIX socket to a path (syslog's /dev/log). */
  connectUnix(fd: number, path: string): void;
  /**
   * Sends one datagram. destination: host-order IPv4 (null for netlink: to the kernel).
   * ifindex > 0 selects the outgoing interface per packet (IP_PKTINFO). Returns bytes sent.
   */
  send(fd: number, data: Buffer, destination: number | null, ifindex: number): number;
  /** Calls back for each datagram (read until EAGAIN, at most 256 per wake-up) until close. */
  receive(fd: number, callback: ReceiveCallback): void;
  /** As receive, but one call back per wake-up with all its datagrams (see ReceiveBatchCallback). */
  receiveBatch(fd: number, callback: ReceiveBatchCallback): void;
  /** Stops receiving and closes the fd. */
  close(fd: number): void;
  /** pthread_sigmask(SIG_UNBLOCK) of one signal number for the calling (main) thread. */
  unblockSignal(signo: number): void;
  /** prctl(PR_SET_THP_DISABLE) for this process: no transparent huge pages from now on. */
  disableTransparentHugePages(): void;
  /** malloc_trim(0): free malloc memory goes back to the kernel. */
  trimMalloc(): void;
}

export const SHIM_ASSET_NAME = 'igmp_shim.node';

/**
 * Where the embedded shim may become an anonymous file, tried in order: the binary's own
 * directory (/usr/sbin on IPFire: on a filesystem that is mounted exec, or the binary itself
 * could not run), then /var/tmp (on IPFire's root filesystem too: for a binary whose
 * directory is read-only or cannot make anonymous files, as overlayfs before Linux 6.6
 * cannot), and then /run. IPFire mounts /run (and /dev/shm) noexec, so the shim written
 * there cannot be mapped; $TMPDIR is often noexec too. A world-writable /var/tmp is no
 * risk here: the file never has a name, so nobody else can open or replace it.
 */
export function shimDirectories(): readonly string[] {
  return [path.dirname(process.execPath), '/var/tmp', '/run'];
}

export interface LoadShimOptions {
  /** Outside a SEA: the .node file (default .cache/native/<arch>/igmp_shim.node under the cwd). */
  readonly path?: string;
  /** Inside a SEA: where to create the anonymous file (default shimDirectories()). */
  readonly directories?: readonly string[];
}

/** Where the shim lies when run from source (main.ts): .cache/native/<arch>/ of the checkout. */
export function developmentShimPath(): string {
  const script = process.argv[1] ?? '';
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  return path.resolve(path.dirname(script), '..', '..', '.cache', 'native', arch, SHIM_ASSET_NAME);
}

let loaded: IgmpShim | undefined;

/** This program's shim: the single binary's asset, or the checkout's build when run from source. */
export function loadOwnShim(isSea: boolean): IgmpShim {
  return loadShim(isSea ? {} : { path: developmentShimPath() });
}

/** Loads the shim once per process; later calls return the same instance. */
export function loadShim(options: LoadShimOptions = {}): IgmpShim {
  if (loaded) return loaded;
  const sea = process.getBuiltinModule('node:sea');
  loaded = sea.isSea()
    ? loadFromAsset(Buffer.from(sea.getRawAsset(SHIM_ASSET_NAME)), options.directories ?? shimDirectories())
    : loadFromFile(
        options.path ?? path.resolve('.cache', 'native', process.arch === 'arm64' ? 'arm64' : 'x64', SHIM_ASSET_NAME),
      );
  return loaded;
}

/** Running from source: a build hint helps the developer who forgot to compile the shim. */
function loadFromFile(file: string): IgmpShim {
  try {
    return dlopen(file);
  } catch (error) {
    throw new Error(
      `cannot load the native shim ${file}: ${errorMessage(error)}` +
        ' (build it with: node scripts/node24.mjs build/native.ts)',
      { cause: error },
    );
  }
}

function dlopen(file: string): IgmpShim {
  const module = { exports: {} as IgmpShim };
  process.dlopen(module, file);
  return module.exports;
}

// open(2)'s O_TMPFILE, which Node does not export: __O_TMPFILE (the same on x86_64 and
// aarch64) | O_DIRECTORY (which differs between them, hence Node's value).
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

/**
 * Loads the embedded shim from an anonymous file: open(dir, O_TMPFILE | O_EXCL) makes an
 * inode with no name in dir, dlopen maps it through /proc/self/fd/N, and closing the fd
 * leaves only the mapping. Why this and not a named file or memfd_create:
 * - nobody can swap it between write and load: it has no name, O_EXCL forbids giving it
 *   one (linkat), and /proc/self/fd/N of a root process is open to root alone;
 * - nothing is left behind, not even after SIGKILL: the kernel frees a nameless inode with
 *   its last reference; no private directory to create either;
 * - the single binary needs nothing installed beside it (--check and -d work alone);
 * - memfd_create(2) would do the same on an exec-able internal mount, but Node has no
 *   binding for it and the shim that could call it is what is being loaded.
 * Each directory is tried in turn; the error names every directory and why it failed.
 */
export function loadFromAsset(bytes: Buffer, directories: readonly string[]): IgmpShim {
  const failures: string[] = [];
  for (const dir of directories) {
    let fd: number;
    try {
      fd = openSync(dir, O_TMPFILE | constants.O_RDWR | constants.O_EXCL, 0o700);
    } catch (error) {
      failures.push(`${dir}: ${whyNoAnonymousFile(error as NodeJS.ErrnoException)}`);
      continue;
    }
    try {
      writeAll(fd, bytes);
      return dlopen(`/proc/self/fd/${fd}`);
    } catch (error) {
      const message = errorMessage(error);
      failures.push(`${dir}: ${/map segment|operation not permitted/i.test(message) ? 'mounted noexec' : message}`);
    } finally {
      closeSync(fd);
    }
  }
  throw new Error(
    `cannot load the daemon's native part (${SHIM_ASSET_NAME}): no anonymous exec-able file in ` +
      `${failures.join('; ')}. Install the binary on a writable filesystem mounted exec (as /usr/sbin on IPFire)` +
      ' or mount /run with exec',
  );
}

function writeAll(fd: number, bytes: Buffer): void {
  // Each pass writes at least one byte or throws; the pass bound is only a guard.
  for (let offset = 0, pass = 0; offset < bytes.length && pass <= bytes.length; pass++) {
    offset += writeSync(fd, bytes, offset);
  }
}

function whyNoAnonymousFile(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EROFS':
      return 'read-only filesystem';
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
    case 'EISDIR':
      return 'its filesystem has no anonymous files (O_TMPFILE)';
    case 'ENOENT':
      return 'no such directory';
    case 'EACCES':
    case 'EPERM':
      return 'not writable';
    default:
      return error.message;
  }
}
