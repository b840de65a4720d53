// The initramfs writer against an independent reader: busybox's cpio extracts what we wrote.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../../scripts/vm/cpio.ts';

describe('writeCpio (newc)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpio-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read back by busybox cpio: directories, files with modes, symlinks', () => {
    const odd = Buffer.from('five!'); // a length that needs padding
    const archive = writeCpio([
      { kind: 'directory', path: 'bin' },
      { kind: 'file', path: 'bin/tool', data: odd, mode: 0o755 },
      { kind: 'file', path: 'empty', data: new Uint8Array(0) },
      { kind: 'symlink', path: 'bin/link', target: 'tool' },
    ]);
    const listed = spawnSync('busybox', ['cpio', '-t'], { input: archive, encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual(['bin', 'bin/tool', 'empty', 'bin/link']);
    const out = path.join(dir, 'x');
    const extracted = spawnSync('sh', ['-c', `mkdir -p "${out}" && cd "${out}" && busybox cpio -i -d`], {
      input: archive,
      encoding: 'utf8',
    });
    expect(extracted.status, extracted.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'bin/tool'), 'utf8')).toBe('five!');
    expect(lstatSync(path.join(out, 'bin/tool')).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(out, 'empty')).length).toBe(0);
    expect(readlinkSync(path.join(out, 'bin/link'))).toBe('tool');
  });

  it('aligns every header to 4 bytes and ends with the trailer', () => {
    const archive = writeCpio([{ kind: 'file', path: 'a', data: Buffer.from('xyz') }]);
    expect(archive.length % 4).toBe(0);
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
  });

  it("writes a character device (the initramfs's /dev/console) as 5:1", () => {
    const archive = writeCpio([{ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 }]);
    const header = archive.subarray(0, 110).toString('ascii');
    const field = (i: number): number => Number.parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    expect(field(1) & 0o170000).toBe(0o020000); // S_IFCHR
    expect([field(9), field(10)]).toEqual([5, 1]); // rdevmajor, rdevminor
  });

  it('refuses absolute paths and dot parts (they would escape the archive root)', () => {
    for (const bad of ['/etc/x', '../x', 'a/./b', 'a//b', '']) {
      expect(() => writeCpio([{ kind: 'directory', path: bad }])).toThrow(/not a plain relative path/);
    }
  });
});
