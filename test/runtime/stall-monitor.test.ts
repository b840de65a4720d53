// The stall alarm's adapter (runtime/stall-monitor.ts) with fake timers: it samples only
// while routes have receivers, at most once a second, and logs what StallWatch decides.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import type { MfcEntry } from '../../addon/daemon/kernel/mfc-stats.ts';
import { StallMonitor } from '../../addon/daemon/runtime/stall-monitor.ts';

const S = parseIpv4('10.97.0.1')!;
const G = parseIpv4('239.1.2.3')!;

/** What an admin sees at the default log level (no debug lines). */
const shown = (lines: readonly string[]) => lines.filter((line) => !line.startsWith('debug: '));

function setup(afterSeconds: number | null = 3) {
  const state = {
    routes: [] as { source: number; group: number; input: string }[],
    packets: 0,
    reads: 0,
    lines: [] as string[],
  };
  const monitor = new StallMonitor(
    {
      now: () => Date.now(),
      routes: () => state.routes,
      readCounters: (): MfcEntry[] => {
        state.reads++;
        return [
          {
            source: S,
            group: G,
            inputVif: 0,
            packets: state.packets,
            bytes: 0,
            wrongInterface: 0,
            outputs: [{ vif: 1, ttl: 1 }],
          },
        ];
      },
      upstream: (name) => ({
        name,
        active: true,
        hasAddress: true,
        lastQueryHeardAt: Date.now(),
        queryIntervalMs: 125_000,
        upSince: 0,
      }),
      log: (level, message) => state.lines.push(`${level}: ${message}`),
    },
    afterSeconds,
  );
  return { state, monitor };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('stall monitor', () => {
  it('no route with receivers: no timer, no read of the kernel counters', () => {
    const { state, monitor } = setup();
    monitor.update();
    vi.advanceTimersByTime(60_000);
    expect(state.reads).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('samples once a second while a route has receivers; stops when none is left', () => {
    const { state, monitor } = setup();
    state.routes = [{ source: S, group: G, input: 'ppp0' }];
    monitor.update();
    monitor.update(); // repeated updates do not add timers
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 10; i++) {
      state.packets += 50;
      vi.advanceTimersByTime(1000);
    }
    expect(state.reads).toBe(11); // one at once, then one per second
    state.routes = [];
    vi.advanceTimersByTime(1000);
    expect(vi.getTimerCount()).toBe(0);
    const reads = state.reads;
    vi.advanceTimersByTime(60_000);
    expect(state.reads).toBe(reads);
    expect(state.lines).toEqual([
      'debug: stall alarm: 1 route(s) with receivers; reading their packet counters every second',
      'debug: stall alarm: no route has receivers; counters no longer read',
    ]);
  });

  it('logs the stall once with group, source, upstream, duration and cause; then the recovery; status follows', () => {
    const { state, monitor } = setup(3);
    state.packets = 10;
    state.routes = [{ source: S, group: G, input: 'ppp0' }];
    monitor.update();
    vi.advanceTimersByTime(10_000);
    expect(shown(state.lines)).toEqual([
      'warning: stall: group 239.1.2.3 from 10.97.0.1 on upstream ppp0: no packets for 3 s while receivers wait; most likely: the provider stopped sending',
    ]);
    expect(monitor.status()).toEqual({
      afterSeconds: 3,
      groups: [{ group: '239.1.2.3', stalls: 1, stalled: true, stalledForSeconds: 10 }],
    });
    state.packets = 11;
    vi.advanceTimersByTime(1000);
    expect(shown(state.lines)[1]).toBe(
      'notice: stall over: group 239.1.2.3 from 10.97.0.1 on upstream ppp0 flows again after 11 s',
    );
    expect(monitor.status().groups).toEqual([
      { group: '239.1.2.3', stalls: 1, stalled: false, stalledForSeconds: null },
    ]);
  });

  it('a route the kernel does not list counts as no packets; its stall ends when the route goes', () => {
    const { state, monitor } = setup(2);
    state.routes = [{ source: parseIpv4('10.97.0.9')!, group: G, input: 'ppp0' }];
    monitor.update();
    vi.advanceTimersByTime(2000);
    expect(shown(state.lines)[0]).toMatch(
      /^warning: stall: group 239\.1\.2\.3 from 10\.97\.0\.9 on upstream ppp0: no packets for 2 s/,
    );
    state.routes = [];
    vi.advanceTimersByTime(1000);
    expect(shown(state.lines)[1]).toBe(
      'notice: stall of group 239.1.2.3 from 10.97.0.9 on upstream ppp0 no longer watched after 3 s: ' +
        'the route is gone (receivers left or upstream went away)',
    );
  });

  it('stallalarm off: never samples; switched on by a reload it starts, off again it stops', () => {
    const { state, monitor } = setup(null);
    state.routes = [{ source: S, group: G, input: 'ppp0' }];
    monitor.update();
    vi.advanceTimersByTime(30_000);
    expect(state.reads).toBe(0);
    expect(monitor.status()).toEqual({ afterSeconds: null, groups: [] });
    monitor.configure(5);
    expect(vi.getTimerCount()).toBe(1);
    monitor.configure(null);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() clears the timer', () => {
    const { state, monitor } = setup();
    state.routes = [{ source: S, group: G, input: 'ppp0' }];
    monitor.update();
    monitor.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
