// Reads igmpproxy.conf from disk and parses it. The only I/O of the config module: every
// failure (missing file, directory, FIFO, oversized, unreadable) becomes a diagnostic.
// Synchronous: a few KiB from a local disk, read at start-up and on SIGHUP. node:fs/promises
// would bring Node's streams and readline (~0.4 MB of heap for the daemon's lifetime), and
// any asynchronous fs call starts libuv's pool of four threads, which the daemon needs for
// nothing else. O_NONBLOCK keeps the open from waiting on a FIFO, the size check and the
// bounded read from reading forever.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parseConfig } from './parser.ts';
import type { ConfigResult } from './types.ts';
import { errorMessage } from '../error-message.ts';

/** Files above this size are refused unread; a real igmpproxy.conf is a few KiB. */
export const MAX_CONFIG_FILE_BYTES = 256 * 1024;

function failure(file: string, message: string): ConfigResult {
  return Object.freeze({
    ok: false,
    errors: Object.freeze([
      Object.freeze({ severity: 'error', location: Object.freeze({ file, line: 1, column: 1 }), message }),
    ]),
    warnings: Object.freeze([]),
  });
}

function describeOpenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'cannot read the config file: it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'cannot read the config file: permission denied';
    case 'ENOTDIR':
      return 'cannot read the config file: a component of the path is not a directory';
    case 'ELOOP':
      return 'cannot read the config file: too many symbolic links';
    case 'EISDIR':
      return 'the config path is a directory, not a file';
    default:
      return `cannot read the config file: ${errorMessage(error)}`;
  }
}

function fileKind(stats: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Reads at most `limit` bytes; the file may grow while being read. */
function readBounded(fd: number, limit: number): Buffer {
  const buffer = Buffer.alloc(limit);
  let filled = 0;
  while (filled < limit) {
    const bytesRead = readSync(fd, buffer, filled, limit - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

const sizeMessage = (bytes: string) =>
  `the config file is ${bytes} bytes; igmpproxy.conf is limited to ${MAX_CONFIG_FILE_BYTES} bytes (256 KiB)`;

export function loadConfigFile(path: string): ConfigResult {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return failure(path, describeOpenError(error));
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return failure(path, `the config path is ${fileKind(stats)}, not a regular file`);
    if (stats.size > MAX_CONFIG_FILE_BYTES) return failure(path, sizeMessage(String(stats.size)));
    const bytes = readBounded(fd, MAX_CONFIG_FILE_BYTES + 1);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) return failure(path, sizeMessage(`more than ${MAX_CONFIG_FILE_BYTES}`));
    // Invalid UTF-8 becomes U+FFFD: harmless in comments, reported where it hits a token.
    const text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
    return parseConfig(text, path);
  } catch (error) {
    return failure(path, describeOpenError(error));
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Nothing was written: a failed close loses nothing.
    }
  }
}
