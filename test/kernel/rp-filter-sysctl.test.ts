// The /proc/sys adapter, on a directory laid out like /proc/sys/net/ipv4/conf.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readRpFilter, writeRpFilter } from '../../addon/daemon/kernel/rp-filter-sysctl.ts';

describe('rp_filter sysctl files', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'rp4-conf-'));
    for (const [name, value] of [
      ['all', '1'],
      ['red0.8', '1'],
      ['ppp0', 'x'],
    ]) {
      mkdirSync(path.join(root, name as string));
      writeFileSync(path.join(root, name as string, 'rp_filter'), `${value}\n`);
    }
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('reads and writes conf/NAME/rp_filter, VLAN names with a dot included', () => {
    expect(readRpFilter('all', root)).toBe(1);
    writeRpFilter('red0.8', 2, root);
    expect(readFileSync(path.join(root, 'red0.8', 'rp_filter'), 'utf8')).toBe('2\n');
    expect(readRpFilter('red0.8', root)).toBe(2);
  });

  test('refuses names that leave the directory, values the kernel does not know, and garbage it reads', () => {
    for (const name of ['', '.', '..', '../all', 'a/b'])
      expect(() => readRpFilter(name, root)).toThrow(/not an interface name/);
    expect(() => writeRpFilter('..', 2, root)).toThrow(/not an interface name/);
    expect(() => writeRpFilter('red0.8', 3, root)).toThrow(/0, 1 or 2/);
    expect(() => readRpFilter('ppp0', root)).toThrow(/unexpected value "x"/);
    expect(() => readRpFilter('gone0', root)).toThrow(/ENOENT/);
  });
});
