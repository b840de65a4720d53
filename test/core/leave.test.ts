// Leaves: last-member queries, quickleave, and the C igmpproxy defects it must beat.
import { describe, expect, it } from 'vitest';
import {
  LAN1,
  LAN2,
  UP,
  UP2,
  describeSends,
  ip,
  ofType,
  recordsOf,
  standardSetup,
  v2Leave,
  v2Report,
} from './harness.ts';

const G = '239.1.1.1';

describe('leave without quickleave', () => {
  it('group-specific queries at t and t+1 s; route deleted and upstream leave at t+2 s', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(10_000);
    const t = sim.clock;
    const atLeave = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    // The host is in IGMPv2 compatibility: the query is an IGMPv2 group-specific query to G.
    expect(atLeave.filter((e) => e.type !== 'log')).toEqual([
      {
        type: 'send-igmp',
        interface: LAN1,
        source: ip('192.168.1.1'),
        destination: ip(G),
        message: { type: 'query', version: 2, maxResponseMs: 1_000, group: ip(G) },
      },
    ]);
    sim.runUntil(t + 1_999);
    expect(sim.kernelRoutes.size).toBe(1);
    expect(sim.observed(UP, G)).toBeDefined();
    const queries = sim.sent({ interface: LAN1, since: t, type: 'query' });
    expect(queries.map((q) => q.at - t)).toEqual([0, 1_000]);
    expect(queries.every((q) => q.effect.destination === ip(G))).toBe(true);
    const expiry = sim.runUntil(t + 2_000);
    expect(ofType(expiry, 'delete-route')).toHaveLength(1);
    expect(recordsOf(expiry, UP)).toEqual([`to-include ${G} []`]);
    expect(sim.observed(UP, G)).toBeUndefined();
    expect(sim.proxy.snapshot().downstreams[0]!.groups).toEqual([]);
  });

  it('a member answering the group-specific query keeps the group and the route', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN1, '192.168.1.21', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(60_000);
    const mark = sim.log.length;
    sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    sim.runFor(400);
    const answeredAt = sim.clock;
    sim.igmp(LAN1, '192.168.1.21', v2Report(G));
    sim.runFor(10_000);
    const after = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(after, 'delete-route')).toEqual([]);
    expect(recordsOf(after, UP)).toEqual([]);
    // the second query carries no S flag in v2, but it is still sent (LMQC = 2)
    expect(
      sim
        .sent({ interface: LAN1, type: 'query', since: answeredAt - 400 })
        .filter((q) => q.effect.destination === ip(G)),
    ).toHaveLength(2);
    expect(sim.proxy.snapshot().downstreams[0]!.groups[0]!.groupTimerAt).toBe(answeredAt + 260_000);
  });

  it('a v3 host in the group gets IGMPv3 group-specific queries with S flag clear', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', {
      type: 'v3-report',
      records: [{ recordType: 'to-exclude', group: ip(G), sources: [] }],
    });
    const effects = sim.igmp(LAN1, '192.168.1.20', {
      type: 'v3-report',
      records: [{ recordType: 'to-include', group: ip(G), sources: [] }],
    });
    expect(ofType(effects, 'send-igmp')).toEqual([
      {
        type: 'send-igmp',
        interface: LAN1,
        source: ip('192.168.1.1'),
        destination: ip(G),
        message: {
          type: 'query',
          version: 3,
          maxResponseMs: 1_000,
          group: ip(G),
          v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
        },
      },
    ]);
  });
});

describe('quickleave', () => {
  it('the last host leave -> upstream leave and route delete in the same effect batch', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(5_000);
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    expect(recordsOf(effects, UP)).toEqual([`to-include ${G} []`]);
    expect(ofType(effects, 'delete-route')).toHaveLength(1);
    // still one query, so a listener whose IGMPv2 report was suppressed can speak up
    expect(describeSends(effects).filter((s) => s.startsWith(LAN1))).toEqual([`lan1 192.168.1.1->${G} query v2 ${G}`]);
  });

  it('BEAT: the group on TWO downstream interfaces: a leave on one keeps upstream; on both leaves', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    const first = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    expect(recordsOf(first, UP)).toEqual([]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan2:2']);
    expect(sim.observed(UP, G)).toBeDefined();
    const second = sim.igmp(LAN2, '192.168.2.20', v2Leave(G), '224.0.0.2');
    expect(recordsOf(second, UP)).toEqual([`to-include ${G} []`]);
    expect(sim.kernelRoutes.size).toBe(0);
  });

  it('BEAT: a route first created by an upcall, then quickleave still fires', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.runFor(30_000);
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(30_000);
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    expect(recordsOf(effects, UP)).toEqual([`to-include ${G} []`]);
    expect(ofType(effects, 'delete-route')).toHaveLength(1);
  });

  it('BEAT: leaves are sent on EVERY upstream that joined', () => {
    const sim = standardSetup({ quickLeave: true, secondUpstream: true });
    const join = sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    expect(recordsOf(join, UP)).toEqual([`to-exclude ${G} []`]);
    expect(recordsOf(join, UP2)).toEqual([`to-exclude ${G} []`]);
    const leave = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    expect(recordsOf(leave, UP)).toEqual([`to-include ${G} []`]);
    expect(recordsOf(leave, UP2)).toEqual([`to-include ${G} []`]);
    expect(sim.observed(UP, G)).toBeUndefined();
    expect(sim.observed(UP2, G)).toBeUndefined();
  });

  it('BEAT: two viewers on one interface, one leaves -> no upstream leave and no route change for the other', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN1, '192.168.1.21', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(5_000);
    const mark = sim.log.length;
    const leave = sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2');
    expect(ofType(leave, 'set-route')).toEqual([]);
    expect(ofType(leave, 'delete-route')).toEqual([]);
    expect(recordsOf(leave, UP)).toEqual([]);
    // the other viewer answers the group-specific query as a host does
    sim.runFor(300);
    sim.igmp(LAN1, '192.168.1.21', v2Report(G));
    sim.runFor(120_000);
    const after = sim.log.slice(mark).map((l) => l.effect);
    expect(ofType(after, 'delete-route')).toEqual([]);
    expect(ofType(after, 'set-route')).toEqual([]);
    expect(recordsOf(after, UP)).toEqual([]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan1:1']);
    expect(sim.proxy.snapshot().downstreams[0]!.groups[0]!.hosts).toEqual(['192.168.1.21']);
  });

  it('hosts are tracked exactly (no hash collisions): many hosts, all but one leave, the last one stays served', () => {
    const sim = standardSetup({ quickLeave: true });
    for (let i = 2; i < 250; i++) sim.igmp(LAN1, `192.168.1.${i}`, v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    for (let i = 2; i < 249; i++) {
      const effects = sim.igmp(LAN1, `192.168.1.${i}`, v2Leave(G), '224.0.0.2');
      expect(recordsOf(effects, UP)).toEqual([]);
      expect(ofType(effects, 'delete-route')).toEqual([]);
    }
    expect(sim.proxy.snapshot().downstreams[0]!.groups[0]!.hosts).toEqual(['192.168.1.249']);
    const last = sim.igmp(LAN1, '192.168.1.249', v2Leave(G), '224.0.0.2');
    expect(recordsOf(last, UP)).toEqual([`to-include ${G} []`]);
  });

  it('turns off with the configuration: then the last-member query time applies again', () => {
    const sim = standardSetup({ quickLeave: false });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v2Leave(G), '224.0.0.2'), UP)).toEqual([]);
    sim.runFor(2_000);
    expect(sim.observed(UP, G)).toBeUndefined();
  });
});

describe('IGMPv1 hosts', () => {
  it('a v1 host keeps the group in v1 compatibility: leaves are ignored until it times out', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN2, '192.168.2.9', { type: 'v1-report', group: ip(G) });
    sim.igmp(LAN2, '192.168.2.10', v2Report(G));
    const leave = sim.igmp(LAN2, '192.168.2.10', v2Leave(G), '224.0.0.2');
    expect(ofType(leave, 'send-igmp')).toEqual([]);
    expect(sim.observed(UP, G)).toBeDefined();
    expect(sim.proxy.snapshot().downstreams[1]!.groups[0]!.compatibility).toBe(1);
    sim.runFor(260_000);
    expect(sim.observed(UP, G)).toBeUndefined();
  });
});
