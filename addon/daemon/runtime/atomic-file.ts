// Files other programs read while we run (pidfile, status file): written to a temp file in
// the same directory and renamed over the old one, so a reader never sees half a file.
// O_NOFOLLOW: a symlink planted at the temp name is not followed (we run as root).
// On a full file system (IPFire's /run is an 8 MB tmpfs shared by every service) a short
// write is not success: the write fails, the temp file is removed and the old file stays.
import { closeSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    try {
      writeAll(fd, Buffer.from(text));
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone.
    }
    throw error;
  }
}

/** write(2) may write less than asked (a full tmpfs): go on until all is written or it fails. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += written;
  }
}
