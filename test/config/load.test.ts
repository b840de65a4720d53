// loadConfigFile: every way reading can fail becomes one clear diagnostic, never a throw.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, loadConfigFile } from '../../addon/daemon/config/load.ts';
import { VALID_BASE, errorsOf, expectOk, isDeepFrozen, lines, summarise } from './helpers.ts';

const directory = mkdtempSync(join(tmpdir(), `ipc1-config-${process.pid}-`));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

describe('loadConfigFile', () => {
  it('reads and parses a file, diagnostics name the path', async () => {
    const path = file('ok.conf', `${VALID_BASE}phyint eth2 downstream altnet 10.1.2.3/8\n`);
    const result = loadConfigFile(path);
    expect(summarise(expectOk(result))[2]).toBe('eth2 downstream rl=0 th=1 altnet=10.0.0.0/8');
    expect(lines(result.warnings)[0]).toMatch(new RegExp(`^${path}:3:31: warning: `));
    expect(isDeepFrozen(result)).toBe(true);
  });

  it('a missing file', async () => {
    const path = join(directory, 'missing.conf');
    expect(lines(errorsOf(loadConfigFile(path)))).toEqual([
      `${path}:1:1: error: cannot read the config file: it does not exist`,
    ]);
  });

  it('a directory', async () => {
    const path = join(directory, 'dir.conf');
    mkdirSync(path);
    expect(lines(errorsOf(loadConfigFile(path)))).toEqual([
      `${path}:1:1: error: the config path is a directory, not a regular file`,
    ]);
  });

  it('a FIFO is refused without waiting for a writer', async () => {
    const path = join(directory, 'fifo.conf');
    const made = spawnSync('mkfifo', [path]);
    expect(made.status).toBe(0);
    expect(lines(errorsOf(loadConfigFile(path)))).toEqual([
      `${path}:1:1: error: the config path is a FIFO, not a regular file`,
    ]);
  });

  it('a device such as /dev/zero is refused', async () => {
    expect(lines(errorsOf(loadConfigFile('/dev/zero')))).toEqual([
      '/dev/zero:1:1: error: the config path is a device, not a regular file',
    ]);
  });

  it('a 10 MB file is refused by size, quickly', async () => {
    const path = file('huge.conf', Buffer.alloc(10 * 1024 * 1024, 'phyint x0 downstream\n'));
    const started = performance.now();
    expect(lines(errorsOf(loadConfigFile(path)))).toEqual([
      `${path}:1:1: error: the config file is ${10 * 1024 * 1024} bytes; igmpproxy.conf is limited to ${MAX_CONFIG_FILE_BYTES} bytes (256 KiB)`,
    ]);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('a file of exactly the limit is read and parsed', async () => {
    const body = `${VALID_BASE}#`;
    const path = file('limit.conf', body + 'x'.repeat(MAX_CONFIG_FILE_BYTES - body.length));
    expectOk(loadConfigFile(path));
  });

  it('invalid UTF-8 in a comment is harmless; in a token it is an error at its position', async () => {
    const comment = file(
      'latin1-comment.conf',
      Buffer.concat([Buffer.from('# Gr'), Buffer.from([0xfc, 0xdf]), Buffer.from(`e\n${VALID_BASE}`)]),
    );
    expectOk(loadConfigFile(comment));
    const token = file(
      'latin1-token.conf',
      Buffer.concat([Buffer.from(VALID_BASE), Buffer.from('phyint gr'), Buffer.from([0xfc]), Buffer.from('n\n')]),
    );
    expect(lines(errorsOf(loadConfigFile(token)))).toEqual([
      `${token}:3:8: error: this word contains bytes that are not valid UTF-8; save the file as UTF-8`,
    ]);
  });

  it('a UTF-8 byte order mark is skipped', async () => {
    const path = file('bom.conf', `\ufeff${VALID_BASE}`);
    const result = loadConfigFile(path);
    expect(summarise(expectOk(result))).toEqual(['eth0 upstream rl=0 th=1', 'eth1 downstream rl=0 th=1']);
    expect(result.warnings).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file (only testable without root)', async () => {
    const path = file('secret.conf', VALID_BASE);
    chmodSync(path, 0o000);
    expect(lines(errorsOf(loadConfigFile(path)))).toEqual([
      `${path}:1:1: error: cannot read the config file: permission denied`,
    ]);
  });
});
