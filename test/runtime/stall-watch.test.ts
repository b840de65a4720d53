// The stall alarm's pure decisions (runtime/stall-watch.ts) with a fake clock: every row of
// its transition table, the counts per group, and the cause it names.
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { likelyStallCause, MAX_STALL_GROUPS, StallWatch } from '../../addon/daemon/runtime/stall-watch.ts';
import type { RouteSample, UpstreamCondition } from '../../addon/daemon/runtime/stall-watch.ts';

const S = parseIpv4('10.97.0.1')!;
const G = parseIpv4('239.1.2.3')!;
const G2 = parseIpv4('239.1.2.4')!;
const AFTER = 10_000;

function sample(packets: number, group = G, source = S, input = 'ppp0'): RouteSample {
  return { source, group, input, packets };
}

/** Samples once a second from `from` to `to` (inclusive) with a fixed counter; returns all events. */
function hold(watch: StallWatch, from: number, to: number, packets: number) {
  const events = [];
  for (let t = from; t <= to; t += 1000) events.push(...watch.observe(t, [sample(packets)]));
  return events;
}

describe('stall watch transitions', () => {
  it('absent -> flowing: the first sample starts counting, even a counter of 0, and says nothing', () => {
    const watch = new StallWatch(AFTER);
    expect(watch.observe(0, [sample(0)])).toEqual([]);
    expect(watch.watching).toBe(1);
    expect(watch.status(0)).toEqual([]);
  });

  it('flowing -> flowing while the counter changes, however long', () => {
    const watch = new StallWatch(AFTER);
    for (let t = 0; t <= 60_000; t += 1000) expect(watch.observe(t, [sample(t)])).toEqual([]);
    expect(watch.status(60_000)).toEqual([]);
  });

  it('flowing -> stalled exactly when no packet came for N; logged once however long it lasts', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(5)]);
    expect(hold(watch, 1000, 9000, 5)).toEqual([]); // 9 s: not yet
    expect(watch.observe(10_000, [sample(5)])).toEqual([
      { kind: 'stalled', source: S, group: G, input: 'ppp0', silentMs: 10_000 },
    ]);
    expect(hold(watch, 11_000, 120_000, 5)).toEqual([]); // stalled -> stalled: no repeat
    expect(watch.status(125_000)).toEqual([{ group: '239.1.2.3', stalls: 1, stalled: true, stalledForSeconds: 125 }]);
  });

  it('the silence is counted from the last change, not from the last sample', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(1)]);
    watch.observe(3000, [sample(2)]);
    // sampled rarely (the sampler slept): one sample 13 s after the last change is enough
    expect(watch.observe(16_500, [sample(2)])).toEqual([
      { kind: 'stalled', source: S, group: G, input: 'ppp0', silentMs: 13_500 },
    ]);
  });

  it('stalled -> flowing when the counter changes: recovered, with the outage from the last packet', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(7)]);
    watch.observe(2000, [sample(8)]);
    hold(watch, 3000, 12_000, 8);
    expect(watch.status(12_000)[0]?.stalled).toBe(true);
    expect(watch.observe(30_000, [sample(9)])).toEqual([
      { kind: 'recovered', source: S, group: G, input: 'ppp0', outageMs: 28_000 },
    ]);
    expect(watch.status(30_000)).toEqual([{ group: '239.1.2.3', stalls: 1, stalled: false, stalledForSeconds: null }]);
    // flowing again: a new silence is a new stall, counted again
    expect(hold(watch, 31_000, 39_000, 9)).toEqual([]);
    expect(watch.observe(40_000, [sample(9)])).toMatchObject([{ kind: 'stalled', silentMs: 10_000 }]);
    expect(watch.status(40_000)).toEqual([{ group: '239.1.2.3', stalls: 2, stalled: true, stalledForSeconds: 10 }]);
  });

  it('a counter that went down (route re-added) counts as a change', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(500)]);
    hold(watch, 1000, 10_000, 500);
    expect(watch.observe(11_000, [sample(3)])).toMatchObject([{ kind: 'recovered', outageMs: 11_000 }]);
  });

  it('flowing -> absent: the route is forgotten silently; back later it starts afresh', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(1)]);
    hold(watch, 1000, 9000, 1);
    expect(watch.observe(9500, [])).toEqual([]);
    expect(watch.watching).toBe(0);
    // returns with the same counter: counting starts again, no stall at 10 s after the first sample
    expect(watch.observe(10_000, [sample(1)])).toEqual([]);
    expect(watch.observe(19_000, [sample(1)])).toEqual([]);
    expect(watch.observe(20_000, [sample(1)])).toMatchObject([{ kind: 'stalled', silentMs: 10_000 }]);
  });

  it('stalled -> absent: ended, with the outage; the group is no longer stalled but keeps its count', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(1)]);
    hold(watch, 1000, 10_000, 1);
    expect(watch.observe(15_000, [])).toEqual([
      { kind: 'ended', source: S, group: G, input: 'ppp0', outageMs: 15_000 },
    ]);
    expect(watch.status(15_000)).toEqual([{ group: '239.1.2.3', stalls: 1, stalled: false, stalledForSeconds: null }]);
  });

  it('routes are independent; a group is stalled while any of its sources is, for the longest outage', () => {
    const watch = new StallWatch(AFTER);
    const other = parseIpv4('10.97.0.9')!;
    watch.observe(0, [sample(1), sample(1, G, other), sample(1, G2)]);
    const events = watch.observe(10_000, [sample(1), sample(2, G, other), sample(2, G2)]);
    expect(events).toEqual([{ kind: 'stalled', source: S, group: G, input: 'ppp0', silentMs: 10_000 }]);
    const later = watch.observe(20_000, [sample(1), sample(2, G, other), sample(3, G2)]);
    expect(later).toEqual([{ kind: 'stalled', source: other, group: G, input: 'ppp0', silentMs: 10_000 }]);
    expect(watch.status(20_000)).toEqual([{ group: '239.1.2.3', stalls: 2, stalled: true, stalledForSeconds: 20 }]);
  });

  it("the input reported is the route's current upstream", () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(1, G, S, 'ppp0')]);
    expect(watch.observe(10_000, [sample(1, G, S, 'red0')])).toMatchObject([{ kind: 'stalled', input: 'red0' }]);
  });

  it('a new setting applies from the next sample', () => {
    const watch = new StallWatch(AFTER);
    watch.observe(0, [sample(1)]);
    expect(watch.observe(5000, [sample(1)])).toEqual([]);
    watch.setStallAfter(3000);
    expect(watch.observe(5001, [sample(1)])).toMatchObject([{ kind: 'stalled', silentMs: 5001 }]);
  });

  it('remembers at most MAX_STALL_GROUPS groups, forgetting the oldest that is not stalled now', () => {
    const watch = new StallWatch(1);
    const base = parseIpv4('239.0.0.0')!;
    const first = [sample(0, base)];
    watch.observe(0, first);
    watch.observe(1, first); // the first group stalls and stays stalled
    for (let i = 1; i <= MAX_STALL_GROUPS; i++) {
      const route = [sample(0, base), sample(0, base + i)];
      watch.observe(i * 10, route);
      watch.observe(i * 10 + 1, route);
      watch.observe(i * 10 + 2, [sample(0, base)]); // the i-th group ends its stall
    }
    const status = watch.status(MAX_STALL_GROUPS * 10 + 10);
    expect(status).toHaveLength(MAX_STALL_GROUPS);
    expect(status[0]).toMatchObject({ group: '239.0.0.0', stalled: true }); // kept: stalled now
    expect(status.some((entry) => entry.group === '239.0.0.1')).toBe(false); // the oldest quiet one went
  });
});

describe('the likely cause of a stall', () => {
  const healthy: UpstreamCondition = {
    name: 'ppp0',
    active: true,
    hasAddress: true,
    lastQueryHeardAt: 100_000,
    queryIntervalMs: 125_000,
    upSince: 0,
  };

  it('upstream down or gone', () => {
    expect(likelyStallCause({ ...healthy, active: false }, 200_000)).toBe('upstream ppp0 is down or gone');
  });

  it('no carrier on the upstream link', () => {
    expect(likelyStallCause({ ...healthy, carrier: false }, 200_000)).toBe(
      'upstream ppp0 has no carrier (its link is down: cable, modem or VLAN parent)',
    );
    expect(likelyStallCause({ ...healthy, carrier: undefined }, 200_000)).toBe('the provider stopped sending');
    expect(likelyStallCause({ ...healthy, carrier: true }, 200_000)).toBe('the provider stopped sending');
  });

  it('no upstream address', () => {
    expect(likelyStallCause({ ...healthy, hasAddress: false }, 200_000)).toBe('upstream ppp0 has no IPv4 address');
  });

  it('queries stopped for more than two query intervals: the provider timed out our membership', () => {
    expect(likelyStallCause(healthy, 100_000 + 250_000)).toBe('the provider stopped sending'); // exactly 2 QI: not yet
    expect(likelyStallCause(healthy, 100_000 + 250_001)).toBe(
      'upstream queries stopped (no query heard upstream for 250 s): the provider may have stopped the stream after its ' +
        'membership timed out; check the firewall lets IGMP in on ppp0',
    );
  });

  it("the querier's own interval counts", () => {
    expect(likelyStallCause({ ...healthy, queryIntervalMs: 20_000 }, 100_000 + 41_000)).toMatch(
      /^upstream queries stopped \(no query heard upstream for 41 s\)/,
    );
  });

  it('no query ever heard: counted from when the upstream came up', () => {
    const never = { ...healthy, lastQueryHeardAt: undefined, upSince: 1000 };
    expect(likelyStallCause(never, 200_000)).toBe('the provider stopped sending');
    expect(likelyStallCause(never, 252_000)).toMatch(
      /^upstream queries stopped \(no query heard upstream yet\): .* on ppp0$/,
    );
  });

  it('otherwise the provider stopped sending', () => {
    expect(likelyStallCause(healthy, 200_000)).toBe('the provider stopped sending');
  });
});
