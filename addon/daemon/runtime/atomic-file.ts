// Files other programs read while we run (pidfile, status file): written to a temp file in
// the same directory and renamed over the old one, so a reader never sees half a file.
// O_NOFOLLOW: a symlink planted at the temp name is not followed (we run as root).
import { closeSync, openSync, renameSync, writeSync, constants } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}
