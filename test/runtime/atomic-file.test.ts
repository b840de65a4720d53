// Files the daemon writes while it runs (pidfile, status file) go to /run, which IPFire mounts
// as an 8 MB tmpfs (test/fixtures/ipfire/mountkernfs) shared with every other service. When
// it is full, a failed write must not leave its half-written temp file behind, filling /run
// for the others. Checked on a real, tiny tmpfs in a private mount namespace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scaled } from '../../scripts/lab/slowdown.ts';

const ATOMIC_FILE = path.resolve(import.meta.dirname, '../../addon/daemon/runtime/atomic-file.ts');
const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync('unshare', ['--version']).status === 0;
if (!isRoot || !hasUnshare) console.warn('atomic-file full-tmpfs test skipped: needs root and unshare');

/** In a new mount namespace: a 64 KiB tmpfs on `dir`, then writeFileAtomic of 1 MiB into it. */
const CHILD = `
import { readdirSync, readFileSync } from 'node:fs';
const { writeFileAtomic } = await import(process.argv[1]);
const dir = process.argv[2];
writeFileAtomic(dir + '/status', 'old\\n');
let error = '';
try {
  writeFileAtomic(dir + '/status', 'x'.repeat(1024 * 1024));
} catch (caught) {
  error = caught.code;
}
console.log(JSON.stringify({ error, left: readdirSync(dir).sort(), status: readFileSync(dir + '/status', 'utf8') }));
`;

describe.skipIf(!isRoot || !hasUnshare)('writeFileAtomic on a full tmpfs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ipmt-atomic-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails with ENOSPC, leaves no temp file behind and the old file as it was', () => {
    const script = 'mount -t tmpfs -o size=64k ipmt-atomic "$1" && exec "$2" --input-type=module -e "$3" "$4" "$1"';
    const result = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        script,
        'sh',
        dir,
        process.execPath,
        CHILD,
        ATOMIC_FILE,
      ],
      { encoding: 'utf8', timeout: scaled(30_000) },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ error: 'ENOSPC', left: ['status'], status: 'old\n' });
  });
});
