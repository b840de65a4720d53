// A writer for the "newc" cpio format, the one the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Only what an initramfs
// needs: directories, regular files, symlinks and character devices, owned by root, with
// mtime 0 so the same input always gives the same bytes.

export type CpioEntry =
  | { readonly kind: 'directory'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | {
      readonly kind: 'chardev';
      readonly path: string;
      readonly major: number;
      readonly minor: number;
      readonly mode?: number;
    };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

/** The archive's bytes: entries in the given order, then the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  const push = (chunk: Buffer): void => {
    chunks.push(chunk);
    offset += chunk.length;
  };
  const pad = (): void => {
    const missing = (4 - (offset % 4)) % 4;
    if (missing > 0) push(Buffer.alloc(missing));
  };
  let inode = 1;
  for (const entry of [...entries, { kind: 'trailer' as const }]) {
    const name = entry.kind === 'trailer' ? TRAILER : checkedPath(entry.path);
    const { mode, data, rdev } = describe(entry);
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const fields = [
      entry.kind === 'trailer' ? 0 : inode++,
      mode,
      0,
      0, // ino, mode, uid, gid
      entry.kind === 'directory' ? 2 : 1,
      0,
      data.length, // nlink, mtime, filesize
      0,
      0,
      rdev[0],
      rdev[1], // devmajor, devminor, rdevmajor, rdevminor
      nameBytes.length,
      0, // namesize (with the NUL), check
    ];
    push(Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii'));
    push(nameBytes);
    pad();
    if (data.length > 0) {
      push(Buffer.from(data));
      pad();
    }
  }
  return Buffer.concat(chunks, offset);
}

function describe(entry: CpioEntry | { kind: 'trailer' }): { mode: number; data: Uint8Array; rdev: [number, number] } {
  const none = new Uint8Array(0);
  switch (entry.kind) {
    case 'directory':
      return { mode: S_IFDIR | (entry.mode ?? 0o755), data: none, rdev: [0, 0] };
    case 'file':
      return { mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data, rdev: [0, 0] };
    case 'symlink':
      return { mode: S_IFLNK | 0o777, data: Buffer.from(entry.target, 'utf8'), rdev: [0, 0] };
    case 'chardev':
      return { mode: S_IFCHR | (entry.mode ?? 0o600), data: none, rdev: [entry.major, entry.minor] };
    case 'trailer':
      return { mode: 0, data: none, rdev: [0, 0] };
  }
}

/** Archive paths are relative ("bin/busybox"), without "." or ".." parts. */
function checkedPath(path: string): string {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: "${path}" is not a plain relative path`);
  }
  return path;
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`cpio: field ${value} out of range`);
  return value.toString(16).padStart(8, '0');
}
