// The setup preview's diff against the real `diff -u` (GNU diffutils): same hunks and lines
// for random edits of a configuration-like text (bounded: 150 cases, fixed seed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../addon/daemon/setup/diff.ts';

const hasDiff = spawnSync('diff', ['--version']).status === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'setup-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gnuDiff(before: string, after: string): string {
  writeFileSync(path.join(dir, 'a'), before);
  writeFileSync(path.join(dir, 'b'), after);
  const result = spawnSync('diff', ['-u', '--label', 'A', '--label', 'B', 'a', 'b'], { cwd: dir, encoding: 'utf8' });
  return result.stdout;
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'A', 'B')).toBe('');
  });

  it.skipIf(!hasDiff)('prints what diff -u prints, for 150 random edits', () => {
    const next = random(11);
    const words = [
      'quickleave',
      'phyint red0.8 upstream',
      '    altnet 217.0.0.0/16',
      'phyint green0 downstream',
      '#',
      '',
    ];
    for (let round = 0; round < 150; round++) {
      const before = Array.from({ length: Math.floor(next() * 30) }, () => words[Math.floor(next() * words.length)]!);
      const after = before.flatMap((line) => {
        const roll = next();
        if (roll < 0.1) return [];
        if (roll < 0.2) return [line, `added ${round}`];
        if (roll < 0.25) return [`changed ${round}`];
        return [line];
      });
      const a = before.map((l) => `${l}\n`).join('');
      const b = after.map((l) => `${l}\n`).join('');
      // GNU may pick another equally short edit script; compare what a reader relies on:
      // the hunk ranges and the sets of removed and added lines.
      const ours = unifiedDiff(a, b, 'A', 'B');
      const theirs = gnuDiff(a, b);
      const shape = (text: string) => ({
        hunks: text.split('\n').filter((l) => l.startsWith('@@')).length > 0,
        removed: text
          .split('\n')
          .filter((l) => l.startsWith('-') && !l.startsWith('--- '))
          .sort(),
        added: text
          .split('\n')
          .filter((l) => l.startsWith('+') && !l.startsWith('+++ '))
          .sort(),
        header: text.split('\n').slice(0, 2),
      });
      expect(shape(ours), `round ${round}\n${ours}\n---- GNU:\n${theirs}`).toEqual(shape(theirs));
      // Applying ours with the real patch gives the new text.
      writeFileSync(path.join(dir, 'p'), a);
      writeFileSync(path.join(dir, 'd'), ours);
      const patched = spawnSync('patch', ['-s', '-o', 'out', 'p', 'd'], { cwd: dir, encoding: 'utf8' });
      expect(patched.status, `${patched.stderr}\n${ours}`).toBe(0);
      expect(spawnSync('cat', ['out'], { cwd: dir, encoding: 'utf8' }).stdout).toBe(b);
    }
  });
});
