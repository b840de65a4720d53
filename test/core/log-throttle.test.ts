// The one throttle for log lines that traffic repeats (core/log-throttle.ts).
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../addon/daemon/core/log-throttle.ts';

describe('LogThrottle', () => {
  it('admits a key once per interval, each key on its own', () => {
    const throttle = new LogThrottle(60_000);
    expect(throttle.admit('a', 0)).toBe(true);
    expect(throttle.admit('a', 59_999)).toBe(false);
    expect(throttle.admit('b', 59_999)).toBe(true);
    expect(throttle.admit('a', 60_000)).toBe(true);
    expect(throttle.admit('a', 60_001)).toBe(false);
  });

  it('a refused line does not restart the interval', () => {
    const throttle = new LogThrottle(1_000);
    expect(throttle.admit('a', 0)).toBe(true);
    expect(throttle.admit('a', 900)).toBe(false);
    expect(throttle.admit('a', 1_000)).toBe(true);
  });

  it('keeps its memory bounded: keys older than the interval are pruned when many pile up', () => {
    const throttle = new LogThrottle(1_000);
    for (let i = 0; i < 5_000; i++) throttle.admit(`host ${i}`, 0);
    expect(throttle.size).toBe(5_000);
    throttle.admit('late', 1_000);
    expect(throttle.size).toBe(1);
    // A pruned key is admitted again, as its interval has passed anyway.
    expect(throttle.admit('host 1', 1_000)).toBe(true);
  });
});
