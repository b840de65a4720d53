// The status document's debounce (runtime/status-publisher.ts) on an injected clock: a change
// is written at once, changes close together are written together at most once per interval,
// and without changes no timer runs.
import { describe, expect, it } from 'vitest';
import { StatusPublisher } from '../../addon/daemon/runtime/status-publisher.ts';

/** A hand-driven clock with timers; counts the timers ever set. */
class FakeClock {
  now = 0;
  timersSet = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  setTimer = (callback: () => void, delayMs: number): unknown => {
    this.timersSet++;
    const id = this.nextId++;
    this.timers.push({ at: this.now + delayMs, callback, id });
    return id;
  };

  clearTimer = (handle: unknown): void => {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  };

  get running(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (let fired = 0; fired < 1000; fired++) {
      const next = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.now = next.at;
      next.callback();
    }
    this.now = end;
  }
}

function setup() {
  const clock = new FakeClock();
  const writes: number[] = [];
  const publisher = new StatusPublisher(
    {
      now: () => clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      write: () => writes.push(clock.now),
    },
    2_000,
  );
  return { clock, writes, publisher };
}

describe('the status document is rewritten on changes, debounced', () => {
  it('writes the first change at once, without a timer', () => {
    const { clock, writes, publisher } = setup();
    clock.advance(10_000);
    publisher.changed();
    expect(writes).toEqual([10_000]);
    expect(clock.timersSet).toBe(0);
  });

  it('writes a burst of changes (a channel change: leave, join, route) at most once per 2 s', () => {
    const { clock, writes, publisher } = setup();
    clock.advance(1_000);
    publisher.changed(); // the leave
    clock.advance(100);
    publisher.changed(); // the join
    clock.advance(400);
    publisher.changed(); // the new route
    expect(writes).toEqual([1_000]);
    expect(publisher.pending).toBe(true);
    clock.advance(1_499);
    expect(writes).toEqual([1_000]);
    clock.advance(1);
    // One write for the two later changes, 2 s after the first.
    expect(writes).toEqual([1_000, 3_000]);
    expect(clock.timersSet).toBe(1);
    expect(clock.running).toBe(0);
  });

  it('keeps the pace under a change every 100 ms: one write per 2 s, never more', () => {
    const { clock, writes, publisher } = setup();
    for (let step = 0; step < 100; step++) {
      publisher.changed();
      clock.advance(100);
    }
    // 10 s of changes: writes at 0, 2, 4, 6, 8 and 10 s.
    expect(writes.length).toBe(6);
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBe(2_000);
  });

  it('sets no timer and writes nothing while nothing changes', () => {
    const { clock, writes, publisher } = setup();
    publisher.changed();
    clock.advance(3_600_000);
    expect(writes).toEqual([0]);
    expect(clock.timersSet).toBe(0);
    expect(clock.running).toBe(0);
    // A change long after the last write goes out at once again.
    publisher.changed();
    expect(writes).toEqual([0, 3_600_000]);
    expect(clock.timersSet).toBe(0);
  });

  it('counts a write for SIGUSR1 as one', () => {
    const { clock, writes, publisher } = setup();
    clock.advance(5_000);
    publisher.written();
    clock.advance(500);
    publisher.changed();
    expect(writes).toEqual([]);
    clock.advance(1_500);
    expect(writes).toEqual([7_000]);
  });

  it('writes nothing more after stop, and leaves no timer behind', () => {
    const { clock, writes, publisher } = setup();
    publisher.changed();
    publisher.changed();
    expect(clock.running).toBe(1);
    publisher.stop();
    expect(clock.running).toBe(0);
    publisher.changed();
    clock.advance(10_000);
    expect(writes).toEqual([0]);
  });
});
