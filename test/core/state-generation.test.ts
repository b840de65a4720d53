// The core's state generation: what tells the daemon that its status document is out of date
// (runtime/status-publisher.ts). It must grow on every change an admin sees (receivers,
// groups, routes, queriers, upstream queries) and stay put on the traffic that changes none
// of it (report refreshes, our own periodic queries), or the daemon would rewrite the
// document for nothing.
import { describe, expect, it } from 'vitest';
import { LAN1, LAN2, UP, standardSetup, v2Leave, v2Report, v3Query } from './harness.ts';

describe("the core's state generation", () => {
  it('grows when a receiver joins, a second one joins, a stream is routed, a receiver leaves', () => {
    const sim = standardSetup({ quickLeave: true });
    const generation = () => sim.proxy.stateGeneration;
    let before = generation();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(generation()).toBeGreaterThan(before);

    // The second receiver of the same group changes no route and no upstream report.
    before = generation();
    const effects = sim.igmp(LAN1, '192.168.1.21', v2Report('239.1.1.1'));
    expect(effects.filter((e) => e.type !== 'log')).toEqual([]);
    expect(generation()).toBeGreaterThan(before);

    before = generation();
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    expect(generation()).toBeGreaterThan(before);

    // quickleave: the leave of one receiver of two removes that receiver at once.
    before = generation();
    sim.igmp(LAN1, '192.168.1.21', v2Leave('239.1.1.1'));
    expect(generation()).toBeGreaterThan(before);
  });

  it('stays put on report refreshes and on our own periodic queries', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    // Past the start-up queries (31.25 s apart): only the 125 s general queries run.
    sim.runUntil(100_000);
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    const before = sim.proxy.stateGeneration;
    for (let step = 0; step < 4; step++) {
      sim.runFor(125_000);
      sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    }
    expect(sim.sent({ interface: LAN1, type: 'query', since: 100_001 }).length).toBeGreaterThanOrEqual(4);
    expect(sim.proxy.stateGeneration).toBe(before);
  });

  it('grows when another router becomes querier downstream and when the provider asks upstream', () => {
    const sim = standardSetup();
    let before = sim.proxy.stateGeneration;
    sim.igmp(LAN2, '192.168.2.0', v3Query(), '224.0.0.1');
    expect(sim.proxy.snapshot().downstreams.find((d) => d.name === LAN2)?.querier.otherQuerier).toBe('192.168.2.0');
    expect(sim.proxy.stateGeneration).toBeGreaterThan(before);

    before = sim.proxy.stateGeneration;
    sim.runFor(1_000);
    sim.igmp(UP, '100.64.0.1', v3Query(), '224.0.0.1');
    expect(sim.proxy.stateGeneration).toBeGreaterThan(before);
  });

  it('grows when a group expires and when an interface goes down', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    let before = sim.proxy.stateGeneration;
    sim.runFor(300_000);
    expect(sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)?.groups).toEqual([]);
    expect(sim.proxy.stateGeneration).toBeGreaterThan(before);
    before = sim.proxy.stateGeneration;
    sim.down(LAN2);
    expect(sim.proxy.stateGeneration).toBeGreaterThan(before);
  });
});
