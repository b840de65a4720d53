// Replaces igmpproxy.conf atomically: the new text goes to a temporary file in the same
// directory (same mode and owner as the old file), which is renamed over it, so a reader
// sees the old file or the new one, never half of one. The old file is kept first as
// <file>.bak-YYYYMMDD (or -YYYYMMDD-N when that exists): an older backup is never replaced.
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../error-message.ts';

export type WriteOutcome =
  | { readonly ok: true; readonly backup: string | undefined }
  | { readonly ok: false; readonly message: string };

/** Backups of one day: .bak-DATE, then .bak-DATE-2 up to this. */
const MAX_BACKUPS_PER_DAY = 99;
const NEW_FILE_MODE = 0o644;

function stamp(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}`;
}

const reason = (error: unknown): string => errorMessage(error);

/** Keeps the current file under a name no other backup has; returns that name. */
function keepBackup(file: string, now: Date): string {
  const base = `${file}.bak-${stamp(now)}`;
  for (let n = 1; n <= MAX_BACKUPS_PER_DAY; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    try {
      // A hard link is the old file itself (bytes, mode, owner) and fails if the name exists.
      linkSync(file, candidate);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    }
    // A file system without hard links: an exclusive copy instead.
    try {
      copyFileSync(file, candidate, constants.COPYFILE_EXCL);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`${MAX_BACKUPS_PER_DAY} backups of ${file} exist for today already; remove some`);
}

export function replaceConfig(file: string, text: string, now: Date): WriteOutcome {
  let mode = NEW_FILE_MODE;
  let owner: { uid: number; gid: number } | undefined;
  let exists = false;
  try {
    const stats = lstatSync(file);
    if (stats.isSymbolicLink())
      return { ok: false, message: `${file} is a symbolic link; not replaced (write to its target by hand)` };
    if (!stats.isFile()) return { ok: false, message: `${file} is not a regular file; not replaced` };
    exists = true;
    mode = stats.mode & 0o7777;
    owner = { uid: stats.uid, gid: stats.gid };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      return { ok: false, message: `cannot inspect ${file}: ${reason(error)}` };
  }

  let backup: string | undefined;
  if (exists) {
    try {
      backup = keepBackup(file, now);
    } catch (error) {
      return { ok: false, message: `cannot keep a backup of ${file}, so it was not replaced: ${reason(error)}` };
    }
  }

  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.setup-${process.pid}`);
  try {
    const fd = openSync(
      temporary,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    );
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The umask narrowed the mode given to open; set it exactly, and the old owner.
    chmodSync(temporary, mode);
    if (owner !== undefined) chownSync(temporary, owner.uid, owner.gid);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    return {
      ok: false,
      message: `cannot write ${file}: ${reason(error)}${backup ? ` (it is unchanged; backup ${backup})` : ''}`,
    };
  }
  syncDirectory(path.dirname(file));
  return { ok: true, backup };
}

/** The rename lasts a power cut only once the directory is on disk; best effort. */
function syncDirectory(directory: string): void {
  try {
    const fd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every file system allows it; the file itself is already synced.
  }
}
