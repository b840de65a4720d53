// Querier timers at RFC values over hours of simulated time.
import { describe, expect, it } from 'vitest';
import { ALL_SYSTEMS } from '../../addon/daemon/net/ipv4.ts';
import { LAN1, LAN2, UP, ip, ofType, standardSetup, v2Query, v2Report, v3Query } from './harness.ts';
import type { IgmpQuery } from '../../addon/daemon/igmp/types.ts';

const HOUR = 3_600_000;

function generalQueries(sim: ReturnType<typeof standardSetup>, ifname: string) {
  return sim.sent({ interface: ifname, type: 'query' }).filter((s) => s.effect.destination === ALL_SYSTEMS);
}

describe('general queries', () => {
  it('startup queries at 0 and 31.25 s, then exactly every 125 s for 3 hours', () => {
    const sim = standardSetup();
    sim.runUntil(3 * HOUR);
    const times = generalQueries(sim, LAN1).map((q) => q.at);
    expect(times.slice(0, 3)).toEqual([0, 31_250, 156_250]);
    const expectedCount = 2 + Math.floor((3 * HOUR - 31_250) / 125_000);
    expect(times).toHaveLength(expectedCount);
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(125_000);
    // each downstream has its own querier; the upstream never gets queries from us
    expect(generalQueries(sim, LAN2)).toHaveLength(expectedCount);
    expect(sim.sent({ interface: UP })).toEqual([]);
  });

  it('general queries are IGMPv3 from the interface address with RFC fields', () => {
    const sim = standardSetup();
    const first = generalQueries(sim, LAN1)[0]!.effect;
    expect(first).toEqual({
      type: 'send-igmp',
      interface: LAN1,
      source: ip('192.168.1.1'),
      destination: ALL_SYSTEMS,
      message: {
        type: 'query',
        version: 3,
        maxResponseMs: 10_000,
        group: 0,
        v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
      },
    });
  });
});

describe('membership timers', () => {
  it('a member that keeps answering general queries never expires (3 hours)', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    let answered = 0;
    for (let step = 0; step < 10_000 && sim.clock < 3 * HOUR; step++) {
      const next = sim.proxy.nextDeadline()!;
      const effects = sim.runUntil(next);
      // answer each of our general queries 3 s later, as a host would (random < 10 s)
      if (effects.some((e) => e.type === 'send-igmp' && e.interface === LAN1 && e.destination === ALL_SYSTEMS)) {
        sim.runFor(3_000);
        sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(80);
    expect(
      ofType(
        sim.log.map((l) => l.effect),
        'delete-route',
      ),
    ).toEqual([]);
    expect(sim.observed(UP, '239.1.1.1')).toBeDefined();
    expect(sim.proxy.snapshot().downstreams[0]!.groups.map((g) => g.group)).toEqual(['239.1.1.1']);
  });

  it('a silent member expires 260 s after its last report', () => {
    const sim = standardSetup();
    sim.runFor(1_000);
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.runFor(50_000);
    const last = sim.clock;
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    sim.runUntil(last + 259_999);
    expect(sim.kernelRoutes.size).toBe(1);
    expect(sim.observed(UP, '239.1.1.1')).toBeDefined();
    const expiry = sim.runUntil(last + 260_000);
    expect(ofType(expiry, 'delete-route')).toHaveLength(1);
    expect(sim.observed(UP, '239.1.1.1')).toBeUndefined();
    expect(sim.log.find((l) => l.effect.type === 'delete-route')!.at).toBe(last + 260_000);
  });
});

describe('querier election', () => {
  it('a lower-address querier silences us for 255 s; then we resume with a general query and every 125 s', () => {
    const sim = standardSetup();
    sim.runFor(40_000); // past the startup queries
    const heardAt = sim.clock;
    sim.igmp(LAN1, '192.168.1.0', v2Query(), '224.0.0.1'); // .0 < .1
    expect(sim.proxy.snapshot().downstreams[0]!.querier.querier).toBe(false);
    sim.runUntil(heardAt + 254_999);
    expect(generalQueries(sim, LAN1).filter((q) => q.at > heardAt)).toEqual([]);
    // lan2 is unaffected
    expect(generalQueries(sim, LAN2).filter((q) => q.at > heardAt).length).toBeGreaterThan(0);
    sim.runUntil(heardAt + 255_000 + 2 * 125_000);
    expect(
      generalQueries(sim, LAN1)
        .filter((q) => q.at > heardAt)
        .map((q) => q.at - heardAt),
    ).toEqual([255_000, 380_000, 505_000]);
  });

  it('the other querier repeating its queries keeps us silent; a higher address does not', () => {
    const sim = standardSetup();
    sim.runFor(40_000);
    const start = sim.clock;
    for (let i = 0; i < 20; i++) {
      sim.igmp(LAN1, '192.168.1.0', v3Query(), '224.0.0.1');
      sim.runFor(125_000);
    }
    expect(generalQueries(sim, LAN1).filter((q) => q.at > start)).toEqual([]);
    sim.igmp(LAN2, '192.168.2.200', v3Query(), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams[1]!.querier.querier).toBe(true);
    // 0.0.0.0 (a snooping switch) never wins
    sim.igmp(LAN2, '0.0.0.0', v3Query(), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams[1]!.querier.querier).toBe(true);
  });

  it('as non-querier we follow the querier group-specific queries (timers lowered, no queries of our own)', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    sim.igmp(LAN1, '192.168.1.0', v2Query(), '224.0.0.1');
    sim.runFor(5_000);
    const mark = sim.clock;
    sim.igmp(LAN1, '192.168.1.20', { type: 'v2-leave', group: ip('239.1.1.1') }, '224.0.0.2');
    sim.igmp(LAN1, '192.168.1.0', v2Query('239.1.1.1', 1_000), '239.1.1.1');
    sim.runFor(1_999);
    expect(sim.kernelRoutes.size).toBe(1);
    sim.runFor(1);
    expect(sim.kernelRoutes.size).toBe(0);
    expect(sim.sent({ interface: LAN1, since: mark })).toEqual([]);
  });

  it('queries from our own address (looped back) are ignored', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.1', v3Query(), '224.0.0.1');
    sim.igmp(LAN1, '192.168.2.1', v3Query(), '224.0.0.1'); // lan2's address, also ours
    expect(sim.proxy.snapshot().downstreams[0]!.querier.querier).toBe(true);
  });
});

/** An IGMPv3 general query with the querier's own robustness and query interval. */
function v3QueryWith(robustness: number, queryIntervalSeconds: number): IgmpQuery {
  return {
    type: 'query',
    version: 3,
    maxResponseMs: 10_000,
    group: 0,
    v3: { suppressRouterSide: false, robustness, queryIntervalSeconds, sources: [] },
  };
}

describe("following the querier's robustness and query interval (RFC 3376 4.1.6, 4.1.7)", () => {
  it('a member of a link whose querier queries every 300 s survives between its queries', () => {
    // With our own values (GMI 260 s) the group would expire 260 s after each report.
    const sim = standardSetup();
    sim.runFor(40_000);
    sim.igmp(LAN1, '192.168.1.0', v3QueryWith(2, 300), '224.0.0.1');
    const querier = sim.proxy.snapshot().downstreams[0]!.querier;
    expect(querier).toMatchObject({
      querier: false,
      robustness: 2,
      queryIntervalSeconds: 300,
      valuesFromOtherQuerier: true,
    });
    expect(
      sim.log.some(
        (l) =>
          l.effect.type === 'log' &&
          /following querier 192\.168\.1\.0: robustness 2, query interval 300 s \(groups time out after 610 s\)/.test(
            l.effect.message,
          ),
      ),
    ).toBe(true);
    sim.runFor(3_000);
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    const reportedAt = sim.clock;
    // The querier keeps querying every 300 s; the host happens not to hear one query.
    for (let i = 1; i <= 2; i++) {
      sim.runUntil(reportedAt - 3_000 + i * 300_000);
      sim.igmp(LAN1, '192.168.1.0', v3QueryWith(2, 300), '224.0.0.1');
    }
    expect(sim.kernelRoutes.size).toBe(1);
    expect(sim.observed(UP, '239.1.1.1')).toBeDefined();
    // 2 x 300 + 10 = 610 s after the last report, it is gone.
    sim.runUntil(reportedAt + 609_999);
    expect(sim.kernelRoutes.size).toBe(1);
    sim.runUntil(reportedAt + 610_000);
    expect(sim.kernelRoutes.size).toBe(0);
  });

  it('the Other Querier Present Interval follows too: we stay quiet for RV x QI + QRI/2 of the querier', () => {
    const sim = standardSetup();
    sim.runFor(40_000);
    const heardAt = sim.clock;
    sim.igmp(LAN1, '192.168.1.0', v3QueryWith(3, 200), '224.0.0.1');
    sim.runUntil(heardAt + 604_999); // 3 x 200 + 5
    expect(generalQueries(sim, LAN1).filter((q) => q.at > heardAt)).toEqual([]);
    sim.runUntil(heardAt + 605_000);
    expect(
      generalQueries(sim, LAN1)
        .filter((q) => q.at > heardAt)
        .map((q) => q.at - heardAt),
    ).toEqual([605_000]);
    // Querier again: our own values in our queries and in our timers.
    const ours = generalQueries(sim, LAN1).at(-1)!.effect.message as IgmpQuery;
    expect(ours.v3).toMatchObject({ robustness: 2, queryIntervalSeconds: 125 });
    expect(sim.proxy.snapshot().downstreams[0]!.querier).toMatchObject({
      querier: true,
      robustness: 2,
      queryIntervalSeconds: 125,
      valuesFromOtherQuerier: false,
    });
    sim.runUntil(heardAt + 605_000 + 125_000);
    expect(
      generalQueries(sim, LAN1)
        .filter((q) => q.at > heardAt)
        .map((q) => q.at - heardAt),
    ).toEqual([605_000, 730_000]);
  });

  it('zero fields mean our defaults; IGMPv2 queries and higher-addressed routers change nothing; only the lowest router counts', () => {
    const sim = standardSetup();
    sim.runFor(40_000);
    sim.igmp(LAN1, '192.168.1.0', v3QueryWith(0, 0), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams[0]!.querier).toMatchObject({
      querier: false,
      robustness: 2,
      queryIntervalSeconds: 125,
      valuesFromOtherQuerier: false,
    });
    sim.igmp(LAN2, '192.168.2.0', v2Query(), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams[1]!.querier).toMatchObject({
      querier: false,
      robustness: 2,
      queryIntervalSeconds: 125,
      valuesFromOtherQuerier: false,
    });
    sim.igmp(LAN2, '192.168.2.200', v3QueryWith(4, 60), '224.0.0.1'); // not lower than ours: not a querier
    expect(sim.proxy.snapshot().downstreams[1]!.querier).toMatchObject({ robustness: 2, queryIntervalSeconds: 125 });
    // The election compares addresses only: 10.x routers are all below our 192.168.1.1.
    sim.igmp(LAN1, '10.0.0.5', v3QueryWith(3, 90), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams[0]!.querier).toMatchObject({
      otherQuerier: '10.0.0.5',
      robustness: 3,
      queryIntervalSeconds: 90,
      valuesFromOtherQuerier: true,
    });
    sim.igmp(LAN1, '10.0.0.9', v3QueryWith(4, 60), '224.0.0.1'); // below us, but above the querier
    expect(sim.proxy.snapshot().downstreams[0]!.querier).toMatchObject({
      otherQuerier: '10.0.0.5',
      robustness: 3,
      queryIntervalSeconds: 90,
    });
    sim.igmp(LAN1, '10.0.0.2', v3QueryWith(2, 125), '224.0.0.1'); // the new lowest, with our defaults
    expect(sim.proxy.snapshot().downstreams[0]!.querier).toMatchObject({
      otherQuerier: '10.0.0.2',
      robustness: 2,
      queryIntervalSeconds: 125,
      valuesFromOtherQuerier: false,
    });
  });
});
