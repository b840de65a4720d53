import { describe, expect, it } from 'vitest';
import { TimerQueue } from '../../addon/daemon/core/timers.ts';
import { seededRandom } from './harness.ts';

describe('TimerQueue', () => {
  it('fires timers in deadline order, ties in start order', () => {
    const queue = new TimerQueue();
    const fired: string[] = [];
    const make = (name: string, at: number) => queue.create(() => fired.push(name)).start(at);
    make('c', 30);
    make('a', 10);
    make('b1', 20);
    make('b2', 20);
    expect(queue.nextDeadline()).toBe(10);
    expect(queue.runDue(20)).toBe(3);
    expect(fired).toEqual(['a', 'b1', 'b2']);
    expect(queue.nextDeadline()).toBe(30);
  });

  it('stop and restart move a timer without leaving a tombstone', () => {
    const queue = new TimerQueue();
    let count = 0;
    const timer = queue.create(() => count++);
    timer.start(100);
    timer.start(50);
    expect(queue.size).toBe(1);
    expect(queue.nextDeadline()).toBe(50);
    timer.stop();
    expect(queue.size).toBe(0);
    expect(timer.running).toBe(false);
    expect(queue.runDue(1000)).toBe(0);
    timer.start(70);
    expect(timer.remaining(20)).toBe(50);
    queue.runDue(70);
    expect(count).toBe(1);
    expect(timer.running).toBe(false);
  });

  it('runs timers that a callback starts for the current time in the same run', () => {
    const queue = new TimerQueue();
    const fired: number[] = [];
    const second = queue.create((d) => fired.push(d));
    queue
      .create((d) => {
        fired.push(d);
        second.start(d);
      })
      .start(5);
    queue.runDue(5);
    expect(fired).toEqual([5, 5]);
  });

  it('stays a valid heap under thousands of random operations', () => {
    const queue = new TimerQueue();
    const random = seededRandom(7);
    const timers = Array.from({ length: 300 }, () => queue.create(() => undefined));
    const model = new Map<number, number>();
    for (let i = 0; i < 5000; i++) {
      const index = Math.floor(random() * timers.length);
      const timer = timers[index]!;
      if (random() < 0.3) {
        timer.stop();
        model.delete(index);
      } else {
        const at = Math.floor(random() * 10_000);
        timer.start(at);
        model.set(index, at);
      }
      const expected = model.size === 0 ? undefined : Math.min(...model.values());
      expect(queue.nextDeadline()).toBe(expected);
      expect(queue.size).toBe(model.size);
    }
    let last = -1;
    for (let t = queue.popDue(Infinity); t !== undefined; t = queue.popDue(Infinity)) {
      expect(t.deadline).toBeGreaterThanOrEqual(last);
      last = t.deadline;
    }
  });
});
