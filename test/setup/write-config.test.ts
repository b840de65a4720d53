// --write's file handling on a real file system: atomic replacement with the old mode and
// owner, dated backups that never replace an older one, refusal of what is not a file.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replaceConfig } from '../../addon/daemon/setup/write-config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'setup-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = new Date(2026, 0, 10, 12, 0, 0);
let count = 0;
const fresh = () => {
  const sub = path.join(dir, String(count++));
  mkdirSync(sub);
  return sub;
};

describe('replaceConfig', () => {
  it('creates a missing file 0644 without a backup', () => {
    const file = path.join(fresh(), 'igmpproxy.conf');
    expect(replaceConfig(file, 'new\n', DAY)).toEqual({ ok: true, backup: undefined });
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(statSync(file).mode & 0o7777).toBe(0o644);
  });

  it('keeps the old bytes as .bak-DATE, then -2, -3: never replaces an older backup', () => {
    const sub = fresh();
    const file = path.join(sub, 'igmpproxy.conf');
    const original = Buffer.from('# mine\r\nphyint ppp0 upstream\xff\n', 'latin1');
    writeFileSync(file, original);
    chmodSync(file, 0o600);
    const first = replaceConfig(file, 'second\n', DAY);
    expect(first).toEqual({ ok: true, backup: `${file}.bak-20260110` });
    expect(readFileSync(`${file}.bak-20260110`).equals(original)).toBe(true);
    expect(replaceConfig(file, 'third\n', DAY)).toEqual({ ok: true, backup: `${file}.bak-20260110-2` });
    expect(replaceConfig(file, 'fourth\n', DAY)).toEqual({ ok: true, backup: `${file}.bak-20260110-3` });
    expect(readFileSync(`${file}.bak-20260110`).equals(original)).toBe(true);
    expect(readFileSync(`${file}.bak-20260110-2`, 'utf8')).toBe('second\n');
    expect(readFileSync(file, 'utf8')).toBe('fourth\n');
    // The mode survives; no temporary file is left behind.
    expect(statSync(file).mode & 0o7777).toBe(0o600);
    expect(readdirSync(sub).sort()).toEqual([
      'igmpproxy.conf',
      'igmpproxy.conf.bak-20260110',
      'igmpproxy.conf.bak-20260110-2',
      'igmpproxy.conf.bak-20260110-3',
    ]);
  });

  it('replaces by rename: a reader holding the old file keeps reading the old inode', () => {
    const file = path.join(fresh(), 'igmpproxy.conf');
    writeFileSync(file, 'old\n');
    const before = statSync(file).ino;
    replaceConfig(file, 'new\n', DAY);
    expect(statSync(file).ino).not.toBe(before);
    expect(statSync(`${file}.bak-20260110`).ino).toBe(before);
  });

  it('refuses a symbolic link and a directory in one line, touching nothing', () => {
    const sub = fresh();
    writeFileSync(path.join(sub, 'target'), 'target\n');
    const link = path.join(sub, 'igmpproxy.conf');
    symlinkSync('target', link);
    const refused = replaceConfig(link, 'new\n', DAY);
    expect(refused).toEqual({ ok: false, message: expect.stringMatching(/is a symbolic link; not replaced/) });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(sub, 'target'), 'utf8')).toBe('target\n');
    const directory = path.join(sub, 'dir.conf');
    mkdirSync(directory);
    expect(replaceConfig(directory, 'x', DAY)).toEqual({
      ok: false,
      message: expect.stringMatching(/not a regular file/),
    });
    expect(readdirSync(sub).sort()).toEqual(['dir.conf', 'igmpproxy.conf', 'target']);
  });

  it('fails in one line when the directory is missing', () => {
    const result = replaceConfig(path.join(dir, 'missing', 'igmpproxy.conf'), 'x', DAY);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^cannot write .*ENOENT/);
  });
});
