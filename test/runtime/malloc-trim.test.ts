// When the daemon gives freed malloc memory back: once, TRIM_AFTER_MS after it handled
// something, never while idle, and at most once per interval however many reports arrive.
// That malloc_trim really releases memory is proven in test/kernel/shim.test.ts.
import { describe, expect, test } from 'vitest';
import { MallocTrimmer, TRIM_AFTER_MS } from '../../addon/daemon/runtime/malloc-trim.ts';

function harness(): { trimmer: MallocTrimmer; trims: () => number; scheduled: { ms: number; run: () => void }[] } {
  let trims = 0;
  const scheduled: { ms: number; run: () => void }[] = [];
  const trimmer = new MallocTrimmer(() => void trims++, (run, ms) => void scheduled.push({ ms, run }));
  return { trimmer, trims: () => trims, scheduled };
}

describe('MallocTrimmer', () => {
  test('nothing is scheduled or trimmed before any activity (an idle daemon never wakes up)', () => {
    const { trims, scheduled } = harness();
    expect(scheduled).toHaveLength(0);
    expect(trims()).toBe(0);
  });

  test('a burst of activity schedules one trim TRIM_AFTER_MS later', () => {
    const { trimmer, trims, scheduled } = harness();
    for (let i = 0; i < 1000; i++) trimmer.activity();
    expect(scheduled.map((entry) => entry.ms)).toEqual([TRIM_AFTER_MS]);
    expect(trims()).toBe(0);
    scheduled[0]!.run();
    expect(trims()).toBe(1);
  });

  test('activity after a trim schedules the next one; activity while one is due does not', () => {
    const { trimmer, trims, scheduled } = harness();
    trimmer.activity();
    scheduled[0]!.run();
    trimmer.activity();
    trimmer.activity();
    expect(scheduled).toHaveLength(2);
    scheduled[1]!.run();
    expect(trims()).toBe(2);
  });
});
