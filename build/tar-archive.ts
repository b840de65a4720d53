// A reproducible POSIX tar written from memory with node-tar's header encoders: entries sorted
// by name, owner root (0/0), one fixed mtime, the given modes. Nothing comes from the build
// machine's file system (no umask, no uid, no atime/ctime, no user name).
import { Header, Pax } from 'tar';

export interface TarEntry {
  /** Relative path, '/'-separated, no leading '/', no '.' or '..' parts. */
  readonly path: string;
  readonly type: 'file' | 'directory';
  readonly mode: number;
  /** File content; directories have none. */
  readonly data?: Uint8Array;
}

const BLOCK = 512;

export class TarError extends Error {}

/** Byte-wise order of UTF-8 names, the same on every machine and locale. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function tarArchive(entries: readonly TarEntry[], mtimeSeconds: number): Buffer {
  if (!Number.isInteger(mtimeSeconds) || mtimeSeconds < 0) {
    throw new TarError(`mtime must be whole seconds >= 0, got ${mtimeSeconds}`);
  }
  const mtime = new Date(mtimeSeconds * 1000);
  const sorted = [...entries].sort((a, b) => compareNames(a.path, b.path));
  const chunks: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    checkEntry(entry);
    if (entry.path === previous) throw new TarError(`'${entry.path}' is listed twice`);
    previous = entry.path;

    const data = entry.type === 'file' ? Buffer.from(entry.data ?? new Uint8Array()) : Buffer.alloc(0);
    const name = entry.type === 'directory' ? `${entry.path}/` : entry.path;
    const fields = {
      path: name,
      mode: entry.mode,
      uid: 0,
      gid: 0,
      size: data.length,
      mtime,
      type: entry.type === 'directory' ? ('Directory' as const) : ('File' as const),
      uname: 'root',
      gname: 'root',
    };
    const header = new Header(fields);
    // encode() reports whether a field did not fit the ustar header (a long name): then a
    // pax extended header carries the full value, as POSIX.1-2001 specifies.
    if (header.encode()) chunks.push(new Pax({ path: name, size: data.length, mtime }).encode());
    if (!header.block) throw new TarError(`no header for '${entry.path}'`);
    chunks.push(header.block, data, Buffer.alloc(padding(data.length)));
  }
  chunks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(chunks);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function checkEntry(entry: TarEntry): void {
  const parts = entry.path.split('/');
  if (entry.path === '' || entry.path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new TarError(`'${entry.path}' is not a clean relative path`);
  }
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777) {
    throw new TarError(`'${entry.path}' has an invalid mode ${entry.mode}`);
  }
  if (entry.type === 'directory' && entry.data !== undefined) {
    throw new TarError(`directory '${entry.path}' cannot have content`);
  }
}
