// Loads the N-API shim (addon/shim/igmp_shim.c). In the single binary (SEA) it is the
// asset "igmp_shim.node": written to a private file in an exec-able runtime directory,
// dlopen'ed, unlinked at once. Outside a SEA (development, tests) it is loaded from a path.
// No import.meta / require: this module runs both as ESM .ts and inside the CJS bundle.
import { lstatSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Callback for received datagrams: (null, data, ingress ifindex, source IPv4) or (error). */
export type ReceiveCallback = (error: NodeJS.ErrnoException | null, data?: Buffer, ifindex?: number, source?: number) => void;

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
  /** Stops receiving and closes the fd. */
  close(fd: number): void;
  /** pthread_sigmask(SIG_UNBLOCK) of one signal number for the calling (main) thread. */
  unblockSignal(signo: number): void;
}

export const SHIM_ASSET_NAME = 'igmp_shim.node';
/** Exec-able, root-only places for the extracted shim, tried in order. Not $TMPDIR: often noexec. */
export const RUNTIME_DIRS: readonly string[] = ['/run/igmpproxy', '/var/run/igmpproxy'];

export interface LoadShimOptions {
  /** Outside a SEA: the .node file (default .cache/native/<arch>/igmp_shim.node under the cwd). */
  readonly path?: string;
  /** Inside a SEA: where to extract the asset (default RUNTIME_DIRS). */
  readonly runtimeDirs?: readonly string[];
}

let loaded: IgmpShim | undefined;

/** Loads the shim once per process; later calls return the same instance. */
export function loadShim(options: LoadShimOptions = {}): IgmpShim {
  if (loaded) return loaded;
  const sea = process.getBuiltinModule('node:sea');
  loaded = sea.isSea() ? loadFromAsset(Buffer.from(sea.getRawAsset(SHIM_ASSET_NAME)), options.runtimeDirs ?? RUNTIME_DIRS)
    : loadFromFile(options.path ?? path.resolve('.cache', 'native', process.arch === 'arm64' ? 'arm64' : 'x64', SHIM_ASSET_NAME));
  return loaded;
}

function loadFromFile(file: string): IgmpShim {
  const module = { exports: {} as IgmpShim };
  try {
    process.dlopen(module, file);
  } catch (error) {
    throw new Error(`cannot load the native shim ${file}: ${(error as Error).message}` +
      ' (build it with: node scripts/node24.mjs build/native.ts)', { cause: error });
  }
  return module.exports;
}

/** Writes the embedded shim to a private file, loads it and unlinks it; tries each dir in turn. */
export function loadFromAsset(bytes: Buffer, runtimeDirs: readonly string[]): IgmpShim {
  const failures: string[] = [];
  for (const dir of runtimeDirs) {
    const file = path.join(dir, `igmp_shim.${process.pid}.node`);
    try {
      preparePrivateDir(dir);
      writeFileSync(file, bytes, { mode: 0o700, flag: 'wx' });
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`);
      continue;
    }
    try {
      return loadFromFile(file);
    } catch (error) {
      const message = (error as Error).message;
      const hint = /map segment|operation not permitted/i.test(message) ? ' (is it mounted noexec?)' : '';
      failures.push(`${dir}: ${message}${hint}`);
    } finally {
      try {
        unlinkSync(file);
      } catch {
        // Already gone: nothing to clean.
      }
    }
  }
  throw new Error(`cannot extract the native shim to an exec-able runtime directory; tried ${failures.join('; ')}.` +
    ' The daemon needs /run (tmpfs, exec-able, root-writable) as on every IPFire system.');
}

/**
 * mkdir 0700 (the parent, e.g. /run, must exist: Node 24's recursive mkdir loops forever
 * where the kernel answers ENOENT under an existing parent, as in /proc); refuses a
 * symlink or a directory not owned by us or writable by others (the file could be swapped).
 */
function preparePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new Error('not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new Error(`owned by uid ${stat.uid}, not ${uid}`);
  if ((stat.mode & 0o022) !== 0) throw new Error('writable by group or others');
}
