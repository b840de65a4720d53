// Reads IPFire's files below a root directory (/ on the appliance, another with --root),
// turning every failure into one line that names the file.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { IPFIRE_FILES, MAX_SETTINGS_BYTES, parseSettings } from './ipfire-settings.ts';
import type { ReadSettings, SettingsRead } from './plan.ts';
import { errorMessage } from '../error-message.ts';

/** Where an IPFire path is below root. */
export function underRoot(root: string, ipfirePath: string): string {
  return path.join(root, ipfirePath);
}

export type TextRead =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string };

function describe(code: string | undefined, error: unknown): string {
  switch (code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return errorMessage(error);
  }
}

/** A regular file of at most `limit` bytes, as UTF-8 (invalid bytes become U+FFFD). */
export function readText(file: string, limit: number): TextRead {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in its place must not hang setup.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, code, message: `cannot read ${file}: ${describe(code, error)}` };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { ok: false, code: 'EINVAL', message: `cannot read ${file}: it is not a regular file` };
    const buffer = Buffer.alloc(limit + 1);
    let filled = 0;
    for (let bytes = -1; bytes !== 0 && filled <= limit; filled += bytes)
      bytes = readSync(fd, buffer, filled, limit + 1 - filled, filled);
    if (filled > limit) return { ok: false, code: 'EFBIG', message: `${file} is larger than ${limit} bytes; not read` };
    return {
      ok: true,
      text: new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(buffer.subarray(0, filled)),
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, code, message: `cannot read ${file}: ${describe(code, error)}` };
  } finally {
    closeSync(fd);
  }
}

/** The settings reader planSetup takes, for IPFire below root. */
export function settingsBelow(root: string): ReadSettings {
  return (ipfirePath: string): SettingsRead => {
    const file = underRoot(root, ipfirePath);
    const read = readText(file, MAX_SETTINGS_BYTES);
    if (!read.ok) {
      const hint =
        read.code === 'ENOENT' && ipfirePath === IPFIRE_FILES.ethernet
          ? ' (not an IPFire system? --root DIR reads another root)'
          : '';
      return { ok: false, message: `${read.message}${hint}` };
    }
    return { ok: true, file: parseSettings(read.text, ipfirePath) };
  };
}
