// What the stall alarm reads from the core: the routes that have receivers, and when the
// upstream querier was last heard and how often it asks.
import { describe, expect, it } from 'vitest';
import { LAN1, UP, ip, standardSetup, v2Leave, v2Query, v2Report, v3Query } from './harness.ts';

describe('routes with receivers', () => {
  it('lists exactly the installed routes: added by an upcall with a listener, gone when the listener leaves', () => {
    const sim = standardSetup({ quickLeave: true });
    expect(sim.proxy.routesWithReceivers()).toEqual([]);
    sim.upcall(UP, '100.64.0.77', '239.1.1.1'); // nobody listens: remembered, not a route
    expect(sim.proxy.routesWithReceivers()).toEqual([]);
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(sim.proxy.routesWithReceivers()).toEqual([{ source: ip('100.64.0.77'), group: ip('239.1.1.1'), input: UP }]);
    sim.igmp(LAN1, '192.168.1.20', v2Leave('239.1.1.1'), '224.0.0.2');
    expect(sim.proxy.routesWithReceivers()).toEqual([]);
  });
});

describe('upstream querier activity', () => {
  it('unknown upstream: undefined; no query yet: our query interval, never heard', () => {
    const sim = standardSetup();
    expect(sim.proxy.upstreamQuerierActivity('nope0')).toBeUndefined();
    expect(sim.proxy.upstreamQuerierActivity(UP)).toEqual({ lastQueryHeardAt: undefined, queryIntervalMs: 125_000 });
    expect(sim.proxy.snapshot().upstreams[0]).toMatchObject({
      lastQueryHeardAt: null,
      querierQueryIntervalMs: 125_000,
    });
  });

  it('an IGMPv3 query: heard now, its QQIC is the interval; a v2 query: ours again; kept across down and up', () => {
    const sim = standardSetup();
    sim.runFor(5_000);
    const v3 = v3Query();
    sim.igmp(UP, '100.64.0.1', { ...v3, v3: { ...v3.v3!, queryIntervalSeconds: 20 } }, '224.0.0.1');
    expect(sim.proxy.upstreamQuerierActivity(UP)).toEqual({ lastQueryHeardAt: 5_000, queryIntervalMs: 20_000 });
    sim.runFor(3_000);
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    expect(sim.proxy.upstreamQuerierActivity(UP)).toEqual({ lastQueryHeardAt: 8_000, queryIntervalMs: 125_000 });
    sim.down(UP);
    sim.up(UP, '100.64.0.2');
    expect(sim.proxy.upstreamQuerierActivity(UP)?.lastQueryHeardAt).toBe(8_000);
    expect(sim.proxy.snapshot().upstreams[0]).toMatchObject({ lastQueryHeardAt: 8_000 });
  });
});
