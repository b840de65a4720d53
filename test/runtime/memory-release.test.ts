// When the daemon gives memory back: only once it has been quiet for QUIET_MS (never in
// the middle of a burst or a zap), never while idle, a GC only when RssAnon grew by
// GROWTH_BYTES (beyond the young generation's regrowth) since the first quiet moment or the
// last GC, malloc_trim every time. That malloc_trim really
// releases memory is proven in test/kernel/shim.test.ts; the figures are the memory probe's.
import { describe, expect, test } from 'vitest';
import {
  BUSY_GROWTH_BYTES,
  BUSY_SLOW_INTERVAL_MS,
  GROWTH_BYTES,
  MemoryRelease,
  QUIET_MS,
  YOUNG_REGROWTH_BYTES,
  memoryReducingGc,
  residentAnonymousBytes,
} from '../../addon/daemon/runtime/memory-release.ts';
import { readFileSync } from 'node:fs';

/**
 * RssAnon as the daemon has it: the rest (grown by `grow`, never shrunk: what the tests grow
 * stays alive) plus V8's young generation, one semi-space after a memory-reducing GC and two
 * again from the next allocation on, here any activity or periodic work.
 */
function harness(collect = true) {
  let clock = 0;
  let old = 10 * GROWTH_BYTES;
  let young = 2 * YOUNG_REGROWTH_BYTES;
  const calls: string[] = [];
  const timers: { at: number; run: () => void }[] = [];
  const release = new MemoryRelease({
    now: () => clock,
    schedule: (run, ms) => void timers.push({ at: clock + ms, run }),
    residentBytes: () => old + young,
    collectGarbage: collect
      ? () => {
          calls.push('gc');
          young = YOUNG_REGROWTH_BYTES;
        }
      : undefined,
    trimMalloc: () => void calls.push('trim'),
  });
  const activity = release.activity.bind(release);
  release.activity = () => {
    young = 2 * YOUNG_REGROWTH_BYTES;
    activity();
  };
  const periodicWork = release.periodicWork.bind(release);
  release.periodicWork = () => {
    young = 2 * YOUNG_REGROWTH_BYTES; // it allocates as well
    periodicWork();
  };
  /** Advances the clock to `to`, firing due timers in order. */
  const runUntil = (to: number): void => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (next === undefined || next.at > to) break;
      timers.shift();
      clock = next.at;
      next.run();
    }
    clock = to;
  };
  return { release, calls, timers, runUntil, at: (t: number) => (clock = t), grow: (bytes: number) => (old += bytes) };
}

describe('MemoryRelease', () => {
  test('an idle daemon schedules nothing', () => {
    const { calls, timers } = harness();
    expect(timers).toHaveLength(0);
    expect(calls).toEqual([]);
  });

  test('after start-up: only a trim, QUIET_MS after the last activity, then nothing while idle', () => {
    const { release, calls, runUntil, at } = harness();
    release.activity();
    at(3_000);
    release.activity(); // still busy: the release waits for QUIET_MS after this one
    runUntil(3_000 + QUIET_MS - 1);
    expect(calls).toEqual([]);
    runUntil(3_000 + QUIET_MS);
    expect(calls).toEqual(['trim']);
    runUntil(100_000);
    expect(calls).toEqual(['trim']);
  });

  test('a flood of activity keeps one timer and releases nothing until it ends', () => {
    const { release, calls, timers, runUntil, at, grow } = harness();
    release.activity();
    runUntil(QUIET_MS);
    for (let t = 10_000; t < 30_000; t += 10) {
      at(t);
      release.activity();
      grow(2_000);
      runUntil(t);
      expect(timers.length).toBeLessThanOrEqual(1);
    }
    expect(calls).toEqual(['trim']);
    runUntil(29_990 + QUIET_MS);
    expect(calls).toEqual(['trim', 'gc', 'trim']);
  });

  test('a flood that keeps filling the heap gets a GC and a trim while it lasts, at most one per QUIET_MS', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    calls.length = 0;
    // 2 MB a second without a quiet moment, for 60 s.
    for (let t = 10; t <= 60_000; t += 10) {
      at(t);
      release.activity();
      grow(20_000);
      runUntil(t);
    }
    const collections = calls.filter((call) => call === 'gc').length;
    // 120 MB grown in all: a collection at each check that finds BUSY_GROWTH_BYTES more.
    expect(collections).toBeGreaterThanOrEqual(Math.floor((60_000 * 200) / BUSY_GROWTH_BYTES) - 1);
    expect(collections).toBeLessThanOrEqual(60_000 / QUIET_MS);
    expect(calls.filter((call) => call === 'trim').length).toBe(collections);
  });

  test('a daemon that is never quiet but grows slowly (zapping TVs) is collected at GROWTH_BYTES, at most once per BUSY_SLOW_INTERVAL_MS', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    calls.length = 0;
    const gcTimes: number[] = [];
    // A zap every 500 ms for 10 minutes, each leaving 2 kB in the old generation: 2.4 MB in all,
    // never BUSY_GROWTH_BYTES, never a quiet moment.
    for (let t = 500; t <= 600_000; t += 500) {
      at(t);
      release.activity();
      grow(2_048);
      const before = calls.length;
      runUntil(t);
      if (calls.slice(before).includes('gc')) gcTimes.push(t);
    }
    // GROWTH_BYTES takes 256 s to grow here: two collections, each right after it was reached.
    expect(gcTimes).toHaveLength(2);
    expect(gcTimes[0]).toBeGreaterThanOrEqual((GROWTH_BYTES / 2_048) * 500);
    expect(gcTimes[0]).toBeLessThanOrEqual((GROWTH_BYTES / 2_048) * 500 + QUIET_MS);
    expect(calls.filter((call) => call === 'trim').length).toBe(2);
  });

  test('fast growth while busy waits for no interval; slow growth waits BUSY_SLOW_INTERVAL_MS after the last collection', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    calls.length = 0;
    let t = 0;
    const busyUntil = (end: number, growPerStep: number): void => {
      for (; t < end; t += 100) {
        at(t);
        release.activity();
        grow(growPerStep);
        runUntil(t);
      }
    };
    busyUntil(10_000, 0);
    grow(BUSY_GROWTH_BYTES); // a flood's burst: collected at the next check
    busyUntil(20_000, 0);
    expect(calls).toEqual(['gc', 'trim']);
    grow(GROWTH_BYTES); // then slow growth: not before BUSY_SLOW_INTERVAL_MS after that collection
    busyUntil(10_000 + BUSY_SLOW_INTERVAL_MS - QUIET_MS, 0);
    expect(calls).toEqual(['gc', 'trim']);
    busyUntil(10_000 + BUSY_SLOW_INTERVAL_MS + QUIET_MS, 0);
    expect(calls).toEqual(['gc', 'trim', 'gc', 'trim']);
  });

  test('start-up ends with a GC and a trim, and growth counts from there', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    expect(calls).toEqual(['gc', 'trim']);
    at(1_000);
    grow(GROWTH_BYTES);
    release.activity();
    runUntil(1_000 + QUIET_MS);
    expect(calls).toEqual(['gc', 'trim', 'gc', 'trim']);
  });

  test('the heap is collected only after it grew by GROWTH_BYTES since the first quiet moment or the last GC', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.activity();
    runUntil(QUIET_MS);
    at(200_000); // a query round or a zap: little allocated
    grow(GROWTH_BYTES - 1);
    release.activity();
    runUntil(200_000 + QUIET_MS);
    expect(calls).toEqual(['trim', 'trim']);
    at(400_000); // a burst of joins
    grow(1);
    release.activity();
    runUntil(400_000 + QUIET_MS);
    expect(calls).toEqual(['trim', 'trim', 'gc', 'trim']);
    at(600_000);
    grow(GROWTH_BYTES - 1);
    release.activity();
    runUntil(600_000 + QUIET_MS);
    expect(calls).toEqual(['trim', 'trim', 'gc', 'trim', 'trim']);
  });

  test("the young generation's regrowth after a collection is not growth: no second GC for it", () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    // A zap after start-up: the young generation takes its second semi-space back.
    at(1_000);
    release.activity();
    runUntil(1_000 + QUIET_MS);
    expect(calls).toEqual(['gc', 'trim', 'trim']);
    // Busy for minutes without growing: no collection either.
    for (let t = 10_000; t <= 10_000 + 3 * BUSY_SLOW_INTERVAL_MS; t += 500) {
      at(t);
      release.activity();
      runUntil(t);
    }
    runUntil(20_000 + 3 * BUSY_SLOW_INTERVAL_MS);
    expect(calls.filter((call) => call === 'gc')).toHaveLength(1);
    // The old generation growing by GROWTH_BYTES is.
    at(400_000);
    grow(GROWTH_BYTES);
    release.activity();
    runUntil(400_000 + QUIET_MS);
    expect(calls.filter((call) => call === 'gc')).toHaveLength(2);
  });

  test('without a gc function (outside the single binary) it only trims', () => {
    const { release, calls, runUntil } = harness(false);
    release.activity();
    runUntil(QUIET_MS);
    expect(calls).toEqual(['trim']);
  });
});

describe('memoryReducingGc', () => {
  test('is undefined without --expose-gc and calls V8 last-resort GC with it', () => {
    const saved = (globalThis as { gc?: unknown }).gc;
    try {
      delete (globalThis as { gc?: unknown }).gc;
      expect(memoryReducingGc()).toBeUndefined();
      const seen: unknown[] = [];
      (globalThis as { gc?: unknown }).gc = (options: unknown) => void seen.push(options);
      memoryReducingGc()?.();
      expect(seen).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    } finally {
      (globalThis as { gc?: unknown }).gc = saved;
    }
  });
});

describe('residentAnonymousBytes', () => {
  test("is this process's RssAnon from /proc/self/status, in bytes", () => {
    const kb = () => Number(/^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    const before = kb();
    const bytes = residentAnonymousBytes();
    const after = kb();
    expect(bytes % 1024).toBe(0);
    expect(bytes / 1024).toBeGreaterThanOrEqual(Math.min(before, after));
    expect(bytes / 1024).toBeLessThanOrEqual(Math.max(before, after));
  });
});

describe('MemoryRelease.periodicWork', () => {
  test('work that is not activity (the stall alarm each second) keeps the checks coming: its garbage is collected at GROWTH_BYTES, the first right after', () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    calls.length = 0;
    const gcTimes: number[] = [];
    // 500 streams flowing, no IGMP: a counter read each second leaving 70 kB that survives.
    for (let t = 1_000; t <= 120_000; t += 1_000) {
      at(t);
      release.periodicWork();
      grow(70_000);
      const before = calls.length;
      runUntil(t);
      if (calls.slice(before).includes('gc')) gcTimes.push(t);
    }
    // GROWTH_BYTES (1 MB) takes 15 s of it: collections, none later than a check after it.
    expect(gcTimes.length).toBeGreaterThanOrEqual(Math.floor((120_000 * 70) / GROWTH_BYTES / 2));
    expect(gcTimes[0]).toBeLessThanOrEqual(Math.ceil(GROWTH_BYTES / 70_000) * 1_000 + QUIET_MS);
    expect(calls.filter((call) => call === 'trim').length).toBeGreaterThanOrEqual(gcTimes.length);
  });

  test("does not count as activity: a burst's quiet-time collection comes QUIET_MS after the burst, not after the last sample", () => {
    const { release, calls, runUntil, at, grow } = harness();
    release.started();
    calls.length = 0;
    release.activity();
    grow(2 * GROWTH_BYTES);
    for (let t = 1_000; t <= QUIET_MS; t += 1_000) {
      at(t);
      release.periodicWork();
      runUntil(t);
    }
    expect(calls).toEqual(['gc', 'trim']);
  });

  test('idle without it: nothing is scheduled', () => {
    const { timers } = harness();
    expect(timers).toHaveLength(0);
  });
});
