// 500 groups on two downstreams must stay cheap (heap timers, no O(n^2) per event).
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { REPORT_BURST, REPORT_REFILL_MS } from '../../addon/daemon/core/settings.ts';
import {
  LAN1,
  LAN2,
  UP,
  ofType,
  recordsOf,
  standardSetup,
  v2Leave,
  v2Query,
  v2Report,
  v3Query,
  v3Report,
  record,
} from './harness.ts';

const COUNT = 500;
const groupName = (i: number) => formatIpv4(((239 << 24) | (10 << 16) | i) >>> 0);

describe('scale', () => {
  it('500 groups x 2 downstreams: joins, one general-query round each way, all leaves', () => {
    const started = performance.now();
    const sim = standardSetup({ quickLeave: true, seed: 5 });
    sim.runFor(60_000); // past startup queries
    const groups = Array.from({ length: COUNT }, (_, i) => groupName(i + 1));

    // joins: lan1 first (each a new upstream membership), then lan2 (already joined)
    let mark = sim.log.length;
    for (const g of groups) sim.igmp(LAN1, '192.168.1.20', v2Report(g));
    for (const g of groups) sim.igmp(LAN2, '192.168.2.20', v2Report(g));
    let effects = sim.log.slice(mark).map((l) => l.effect);
    // paced: a burst of reports at once, everything else waits for the next token, merged
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(REPORT_BURST);
    const paced = sim.runFor(REPORT_REFILL_MS);
    expect(ofType(paced, 'send-igmp')).toHaveLength(1);
    expect(recordsOf(paced, UP)).toHaveLength(COUNT - REPORT_BURST);
    // the retransmissions of all joins share one message
    const retransmission = sim.runFor(1_000 - REPORT_REFILL_MS);
    expect(ofType(retransmission, 'send-igmp')).toHaveLength(1);
    expect(recordsOf(retransmission, UP)).toHaveLength(COUNT);

    // traffic arrives: one route per group with both downstreams
    mark = sim.log.length;
    for (const g of groups) sim.upcall(UP, '198.51.100.1', g);
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(effects, 'set-route')).toHaveLength(COUNT);
    expect(ofType(effects, 'set-route').every((r) => r.outputs.length === 2)).toBe(true);

    // our general query on lan1, answered by the host for every group
    sim.runUntil(sim.proxy.nextDeadline()!);
    for (const g of groups) sim.igmp(LAN1, '192.168.1.20', v2Report(g));

    // upstream v3 general query: one message with every group
    mark = sim.log.length;
    sim.igmp(UP, '100.64.0.1', v3Query(), '224.0.0.1');
    sim.runFor(10_000);
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(1);
    expect(recordsOf(effects, UP)).toHaveLength(COUNT);

    // upstream v2 general query: one v2 report per group
    mark = sim.log.length;
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    sim.runFor(10_000);
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(
      ofType(effects, 'send-igmp').filter((e) => e.interface === UP && e.message.type === 'v2-report'),
    ).toHaveLength(COUNT);

    // leaves on lan1: routes shrink, nothing upstream
    mark = sim.log.length;
    for (const g of groups) sim.igmp(LAN1, '192.168.1.20', v2Leave(g), '224.0.0.2');
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(0);
    expect(ofType(effects, 'set-route')).toHaveLength(COUNT);
    // leaves on lan2: every route deleted, one v2 leave per group (upstream is in v2 mode
    // now), paced: a burst at once, then one per refill interval
    mark = sim.log.length;
    for (const g of groups) sim.igmp(LAN2, '192.168.2.20', v2Leave(g), '224.0.0.2');
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(REPORT_BURST);
    sim.runFor((COUNT - REPORT_BURST) * REPORT_REFILL_MS);
    effects = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(effects, 'delete-route')).toHaveLength(COUNT);
    expect(
      ofType(effects, 'send-igmp').filter((e) => e.interface === UP && e.message.type === 'v2-leave'),
    ).toHaveLength(COUNT);
    expect(sim.kernelRoutes.size).toBe(0);
    expect(sim.proxy.snapshot().upstreams[0]!.joined).toEqual([]);

    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(5_000);
  });

  it('one IGMPv3 report with 500 records becomes one upstream report with 500 records', () => {
    const sim = standardSetup();
    const records = Array.from({ length: COUNT }, (_, i) => record('to-exclude', groupName(i + 1)));
    const effects = sim.igmp(LAN1, '192.168.1.20', v3Report(...records));
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(1);
    expect(recordsOf(effects, UP)).toHaveLength(COUNT);
  });

  it('a day with 500 groups answered every query: timer count stays bounded', () => {
    const sim = standardSetup({ seed: 9 });
    const groups = Array.from({ length: COUNT }, (_, i) => groupName(i + 1));
    sim.igmp(LAN1, '192.168.1.20', v3Report(...groups.map((g) => record('is-exclude', g))));
    const started = performance.now();
    for (let hour = 0; hour < 24; hour++) {
      for (let i = 0; i < 29; i++) {
        sim.runFor(125_000);
        sim.igmp(LAN1, '192.168.1.20', v3Report(...groups.map((g) => record('is-exclude', g))));
      }
    }
    const snapshot = sim.proxy.snapshot();
    expect(snapshot.downstreams[0]!.groups).toHaveLength(COUNT);
    // one group timer per group, plus a handful per interface
    expect(snapshot.timers).toBeLessThanOrEqual(COUNT + 10);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
