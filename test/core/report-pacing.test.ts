// Upstream state-change reports are paced by a token bucket (core/report-pacing.ts, rates in
// core/settings.ts): a burst of joins cannot become a flood of reports toward the provider,
// a normal channel change never waits, and what waits is merged, never lost.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../addon/daemon/core/report-pacing.ts';
import { REPORT_BURST, REPORT_REFILL_MS } from '../../addon/daemon/core/settings.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { LAN1, UP, ofType, record, recordsOf, standardSetup, v2Leave, v2Query, v2Report, v3Report } from './harness.ts';

describe('TokenBucket', () => {
  // [what, capacity, refill ms, takes as [time, expected result][]]
  const cases: [string, number, number, [number, boolean][]][] = [
    [
      'starts full, then refuses',
      2,
      100,
      [
        [0, true],
        [0, true],
        [0, false],
        [99, false],
      ],
    ],
    [
      'one token back per interval',
      2,
      100,
      [
        [0, true],
        [0, true],
        [100, true],
        [150, false],
        [200, true],
      ],
    ],
    [
      'refills only up to the capacity',
      2,
      100,
      [
        [0, true],
        [0, true],
        [10_000, true],
        [10_000, true],
        [10_000, false],
      ],
    ],
    [
      'partial progress is kept across a take',
      1,
      100,
      [
        [0, true],
        [50, false],
        [100, true],
        [199, false],
        [200, true],
      ],
    ],
    [
      'time that stands still gives nothing',
      1,
      100,
      [
        [5, true],
        [5, false],
        [5, false],
      ],
    ],
  ];
  it.each(cases)('%s', (_what, capacity, refillMs, takes) => {
    const bucket = new TokenBucket(capacity, refillMs, 0);
    expect(takes.map(([at]) => bucket.take(at))).toEqual(takes.map(([, result]) => result));
  });

  it('says when the next token comes', () => {
    const bucket = new TokenBucket(1, 250, 0);
    expect(bucket.nextTokenAt(0)).toBe(0);
    bucket.take(10);
    expect(bucket.nextTokenAt(10)).toBe(260);
    expect(bucket.take(259)).toBe(false);
    expect(bucket.take(260)).toBe(true);
  });

  it('refuses a bucket that could never give a token', () => {
    expect(() => new TokenBucket(0, 100, 0)).toThrow(/capacity/);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(/refill/);
  });
});

const group = (i: number) => formatIpv4(((239 << 24) | (20 << 16) | i) >>> 0);
const upstreamSends = (effects: ReturnType<ReturnType<typeof standardSetup>['runFor']>) =>
  ofType(effects, 'send-igmp').filter((e) => e.interface === UP);

describe('upstream report pacing', () => {
  it('a TV zapping every second for a minute (leave + join each) never waits', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.runFor(60_000);
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', group(0))));
    for (let zap = 1; zap <= 60; zap++) {
      sim.runFor(1_000);
      const before = sim.log.length;
      sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-include', group(zap - 1))));
      sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', group(zap))));
      // the leave and the join each went out at once, in the same instant
      const now = sim.log.slice(before).map((l) => l.effect);
      expect(recordsOf(now, UP)).toEqual([`to-include ${group(zap - 1)} []`, `to-exclude ${group(zap)} []`]);
    }
    const upstream = sim.proxy.snapshot().upstreams[0]!;
    expect(upstream.pacedChanges).toBe(0);
    expect(upstream.joined.map((j) => j.group)).toEqual([group(60)]);
  });

  it('four TVs zapping at the same instant do not wait either', () => {
    const sim = standardSetup({ quickLeave: true });
    for (let tv = 0; tv < 4; tv++) sim.igmp(LAN1, `192.168.1.${20 + tv}`, v3Report(record('to-exclude', group(tv))));
    sim.runFor(10_000);
    const before = sim.log.length;
    for (let tv = 0; tv < 4; tv++) {
      sim.igmp(LAN1, `192.168.1.${20 + tv}`, v3Report(record('to-include', group(tv))));
      sim.igmp(LAN1, `192.168.1.${20 + tv}`, v3Report(record('to-exclude', group(10 + tv))));
    }
    expect(upstreamSends(sim.log.slice(before).map((l) => l.effect))).toHaveLength(8);
    expect(sim.proxy.snapshot().upstreams[0]!.pacedChanges).toBe(0);
  });

  // A viewer holding channel-up: 3 zaps a second, each a leave and a join (two reports).
  // [what, TVs zapping together, seconds]
  const quickZapping: [string, number, number][] = [
    ['one TV for a minute', 1, 60],
    ['three TVs for a minute', 3, 60],
    ['four TVs for five seconds', 4, 5],
  ];
  it.each(quickZapping)('zapping 3 times a second (%s) never waits', (_what, tvs, seconds) => {
    const sim = standardSetup({ quickLeave: true });
    const host = (tv: number) => `192.168.1.${20 + tv}`;
    const channel = (tv: number, zap: number) => group(tv * 1000 + zap);
    for (let tv = 0; tv < tvs; tv++) sim.igmp(LAN1, host(tv), v3Report(record('to-exclude', channel(tv, 0))));
    sim.runFor(10_000);
    for (let zap = 1; zap <= seconds * 3; zap++) {
      sim.runFor(333);
      for (let tv = 0; tv < tvs; tv++) {
        const before = sim.log.length;
        sim.igmp(LAN1, host(tv), v3Report(record('to-include', channel(tv, zap - 1))));
        sim.igmp(LAN1, host(tv), v3Report(record('to-exclude', channel(tv, zap))));
        const now = sim.log.slice(before).map((l) => l.effect);
        expect(recordsOf(now, UP)).toEqual([
          `to-include ${channel(tv, zap - 1)} []`,
          `to-exclude ${channel(tv, zap)} []`,
        ]);
      }
    }
    expect(sim.proxy.snapshot().upstreams[0]!.pacedChanges).toBe(0);
  });

  // [what, upstream IGMP version, joins at one instant]
  const bursts: [string, 2 | 3, number][] = [
    ['IGMPv3: 200 joins', 3, 200],
    ['IGMPv2 upstream: 40 joins (one report per group)', 2, 40],
  ];
  it.each(bursts)('a burst (%s): never more than the burst plus the rate, nothing lost', (_what, version, count) => {
    const sim = standardSetup();
    if (version === 2) sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    sim.runFor(20_000);
    const start = sim.clock;
    const mark = sim.log.length;
    for (let i = 0; i < count; i++) sim.igmp(LAN1, `192.168.1.${(i % 200) + 2}`, v2Report(group(i)));
    const duration = count * REPORT_REFILL_MS;
    sim.runFor(duration);
    const sends = sim.log.slice(mark).filter((l) => l.effect.type === 'send-igmp' && l.effect.interface === UP);
    // state-change reports only (retransmissions are one per second and counted apart)
    const snapshot = sim.proxy.snapshot().upstreams[0]!;
    expect(snapshot.stateChangeReports).toBeLessThanOrEqual(REPORT_BURST + Math.floor(duration / REPORT_REFILL_MS));
    // the burst went out at once, the rest waited
    const atStart = sends.filter((s) => s.at === start).length;
    expect(atStart).toBe(REPORT_BURST);
    expect(snapshot.pacedChanges).toBe(count - REPORT_BURST);
    // every join reached the provider, and nothing waits any more
    expect(snapshot.waitingChanges).toBe(0);
    expect(snapshot.joined).toHaveLength(count);
    for (let i = 0; i < count; i++) expect(sim.observed(UP, group(i))).toBeDefined();
  });

  it('changes that wait are merged per group: joined and left again while waiting = never reported', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.runFor(20_000);
    for (let i = 0; i < REPORT_BURST; i++) sim.igmp(LAN1, '192.168.1.20', v2Report(group(i)));
    const mark = sim.log.length;
    sim.igmp(LAN1, '192.168.1.21', v2Report(group(100)));
    sim.igmp(LAN1, '192.168.1.21', v2Leave(group(100)), '224.0.0.2');
    sim.igmp(LAN1, '192.168.1.22', v2Report(group(101)));
    expect(sim.proxy.snapshot().upstreams[0]!.waitingChanges).toBe(1);
    const later = sim.runFor(REPORT_REFILL_MS);
    expect(recordsOf(later, UP)).toEqual([`to-exclude ${group(101)} []`]);
    const all = recordsOf(
      sim.log.slice(mark).map((l) => l.effect),
      UP,
    );
    expect(all.filter((r) => r.includes(group(100)))).toEqual([]);
  });

  it('shutdown leaves every group at once, joined or waiting, without pacing', () => {
    const sim = standardSetup();
    const joins = REPORT_BURST + 20;
    for (let i = 0; i < joins; i++) sim.igmp(LAN1, '192.168.1.20', v2Report(group(i)));
    expect(sim.proxy.snapshot().upstreams[0]!.waitingChanges).toBe(20);
    const effects = sim.shutdown();
    expect(recordsOf(effects, UP)).toHaveLength(REPORT_BURST);
    expect(sim.proxy.nextDeadline()).toBeUndefined();
    expect([...(sim.upstreamView.get(UP)?.keys() ?? [])]).toEqual([]);
  });
});
