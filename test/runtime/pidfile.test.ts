import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPidfile, removePidfile, writePidfile } from '../../addon/daemon/runtime/pidfile.ts';

describe('pidfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-pid-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and removes our pid', () => {
    const file = path.join(dir, 'igmpproxy.pid');
    writePidfile(file, 4242);
    expect(readFileSync(file, 'utf8')).toBe('4242\n');
    expect(readPidfile(file)).toBe(4242);
    removePidfile(file, 4243); // not ours: stays
    expect(existsSync(file)).toBe(true);
    removePidfile(file, 4242);
    expect(existsSync(file)).toBe(false);
  });

  it('reads garbage as no pid', () => {
    const file = path.join(dir, 'igmpproxy.pid');
    for (const text of ['', 'abc', '-5', '0', '12 34', '99999999999']) {
      writeFileSync(file, text);
      expect(readPidfile(file)).toBeUndefined();
    }
    expect(readPidfile(path.join(dir, 'missing'))).toBeUndefined();
  });

  it('replaces a stale pidfile whose process is gone', () => {
    const file = path.join(dir, 'igmpproxy.pid');
    writeFileSync(file, '2147483646\n'); // no such pid
    writePidfile(file, 77);
    expect(readPidfile(file)).toBe(77);
  });
});
