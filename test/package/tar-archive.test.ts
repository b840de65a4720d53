import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarArchive, TarError } from '../../build/tar-archive.ts';

describe('tarArchive', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ipp6-tar-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function gnuTar(archive: Buffer, ...args: string[]) {
    const file = path.join(dir, 'a.tar');
    await writeFile(file, archive);
    return spawnSync('tar', [...args, '-f', file], { encoding: 'utf8', cwd: dir });
  }

  it('sorts entries byte-wise whatever the input order, and is the same every time', () => {
    const entries = [
      { path: 'b', type: 'file' as const, mode: 0o644, data: Buffer.from('b') },
      { path: 'a/z', type: 'file' as const, mode: 0o600, data: Buffer.from('z') },
      { path: 'a', type: 'directory' as const, mode: 0o755 },
      { path: 'B', type: 'file' as const, mode: 0o644, data: Buffer.from('B') },
    ];
    const one = tarArchive(entries, 1);
    expect(tarArchive([...entries].reverse(), 1).equals(one)).toBe(true);
    const names = [];
    for (let offset = 0; offset < one.length && one[offset] !== 0; ) {
      names.push(
        one
          .subarray(offset, offset + 100)
          .toString('latin1')
          .replace(/\0.*$/s, ''),
      );
      const size = parseInt(one.subarray(offset + 124, offset + 136).toString('latin1'), 8);
      offset += 512 + Math.ceil(size / 512) * 512;
    }
    expect(names).toEqual(['B', 'a/', 'a/z', 'b']);
  });

  it('keeps a name longer than the ustar fields whole (pax extended header), as GNU tar reads it', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const archive = tarArchive(
      [{ path: long, type: 'file', mode: 0o640, data: Buffer.from('content\n') }],
      1_700_000_000,
    );
    const listed = await gnuTar(archive, '--numeric-owner', '-tv');
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^-rw-r----- 0/0 +8 \\S+ \\S+ ${long}\\n$`));
    const extracted = await gnuTar(archive, '-x');
    expect(extracted.status, extracted.stderr).toBe(0);
    expect(await readFile(path.join(dir, long), 'utf8')).toBe('content\n');
  });

  it('refuses absolute, dotted and duplicate paths, and bad modes', () => {
    const file = (p: string, mode = 0o644) => ({ path: p, type: 'file' as const, mode, data: Buffer.alloc(0) });
    for (const bad of ['/etc/x', '../x', 'a/./b', 'a//b', ''])
      expect(() => tarArchive([file(bad)], 0), bad).toThrow(TarError);
    expect(() => tarArchive([file('x'), file('x')], 0)).toThrow(/twice/);
    expect(() => tarArchive([file('x', 0o10000)], 0)).toThrow(/mode/);
    expect(() => tarArchive([file('x')], 1.5)).toThrow(/mtime/);
  });
});
