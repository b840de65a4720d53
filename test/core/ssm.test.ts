// IGMPv3 source filtering: INCLUDE lists (SSM, 232.0.0.0/8) and EXCLUDE lists.
import { describe, expect, it } from 'vitest';
import {
  LAN1,
  LAN2,
  UP,
  describeSends,
  ip,
  ofType,
  recordsOf,
  standardSetup,
  v1Query,
  v1Report,
  v2Leave,
  v2Query,
  v2Report,
  v3Report,
  record,
} from './harness.ts';

const G = '232.1.1.1';
const S1 = '198.51.100.1';
const S2 = '198.51.100.2';

describe('IGMPv3 SSM (INCLUDE)', () => {
  it('INCLUDE {S1} on a downstream -> upstream ALLOW {S1}; route (S1,G) only; (S2,G) not routed', () => {
    const sim = standardSetup();
    const join = sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    expect(recordsOf(join, UP)).toEqual([`allow ${G} [${S1}]`]);
    expect(sim.observed(UP, G)).toEqual({ mode: 'include', sources: new Set([ip(S1)]) });
    expect(ofType(sim.upcall(UP, S1, G), 'set-route')[0]!.outputs).toEqual([{ interface: LAN1, threshold: 1 }]);
    expect(ofType(sim.upcall(UP, S2, G), 'set-route')).toEqual([]);
    // the state-change report is repeated once after 1 s, as IS_IN would be answered later
    sim.runFor(1_000);
    expect(recordsOf(sim.sent({ interface: UP }).map((s) => s.effect))).toEqual([
      `allow ${G} [${S1}]`,
      `allow ${G} [${S1}]`,
    ]);
  });

  it('IS_IN {S1} behaves like ALLOW for a new group', () => {
    const sim = standardSetup();
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v3Report(record('is-include', G, [S1]))), UP)).toEqual([
      `allow ${G} [${S1}]`,
    ]);
  });

  it('BLOCK {S1} without quickleave: source-specific queries at t and t+1 s, removed at t+2 s', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    sim.upcall(UP, S1, G);
    sim.runFor(10_000);
    const t = sim.clock;
    const block = sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G, [S1])));
    expect(describeSends(block)).toEqual([`lan1 192.168.1.1->${G} query v3 ${G} [${S1}]`]);
    const query = ofType(block, 'send-igmp')[0]!.message;
    expect(query).toEqual({
      type: 'query',
      version: 3,
      maxResponseMs: 1_000,
      group: ip(G),
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [ip(S1)] },
    });
    sim.runUntil(t + 1_999);
    expect(sim.sent({ interface: LAN1, since: t }).map((s) => s.at - t)).toEqual([0, 1_000]);
    expect(sim.kernelRoutes.size).toBe(1);
    const expiry = sim.runUntil(t + 2_000);
    expect(ofType(expiry, 'delete-route')).toHaveLength(1);
    expect(recordsOf(expiry, UP)).toEqual([`block ${G} [${S1}]`]);
    expect(sim.observed(UP, G)).toBeUndefined();
  });

  it('BLOCK {S1} with quickleave: removed at once', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1, S2])));
    sim.upcall(UP, S1, G);
    sim.upcall(UP, S2, G);
    const block = sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G, [S1])));
    expect(recordsOf(block, UP)).toEqual([`block ${G} [${S1}]`]);
    expect(ofType(block, 'delete-route').map((d) => d.source)).toEqual([ip(S1)]);
    expect(sim.outputs(S2, G)).toEqual(['lan1:1']);
    expect(sim.observed(UP, G)).toEqual({ mode: 'include', sources: new Set([ip(S2)]) });
  });

  it('quickleave keeps a source another host on the interface still includes', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    sim.igmp(LAN1, '192.168.1.21', v3Report(record('allow', G, [S1])));
    sim.upcall(UP, S1, G);
    const block = sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G, [S1])));
    expect(recordsOf(block, UP)).toEqual([]);
    expect(ofType(block, 'delete-route')).toEqual([]);
    // the other host answers the source-specific query
    sim.runFor(200);
    sim.igmp(LAN1, '192.168.1.21', v3Report(record('is-include', G, [S1])));
    sim.runFor(10_000);
    expect(sim.outputs(S1, G)).toEqual(['lan1:1']);
    // with the answer in, the retransmitted query has the S flag set (RFC 3376 6.6.3.2)
    const queries = sim.sent({ interface: LAN1, type: 'query' }).filter((q) => q.effect.destination === ip(G));
    expect(
      queries.map((q) => (q.effect.message as { v3?: { suppressRouterSide: boolean } }).v3?.suppressRouterSide),
    ).toEqual([false, true]);
  });

  it('merges INCLUDE lists of two downstreams upstream (RFC 4605 4.1)', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    expect(recordsOf(sim.igmp(LAN2, '192.168.2.20', v3Report(record('allow', G, [S1, S2]))), UP)).toEqual([
      `allow ${G} [${S2}]`,
    ]);
    expect(sim.observed(UP, G)).toEqual({ mode: 'include', sources: new Set([ip(S1), ip(S2)]) });
    sim.upcall(UP, S1, G);
    sim.upcall(UP, S2, G);
    expect(sim.outputs(S1, G)).toEqual(['lan1:1', 'lan2:2']);
    expect(sim.outputs(S2, G)).toEqual(['lan2:2']);
  });

  it('TO_IN from the only host drops the sources it no longer lists (quickleave)', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1, S2])));
    const change = sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-include', G, [S2])));
    expect(recordsOf(change, UP)).toEqual([`block ${G} [${S1}]`]);
  });
});

describe('the SSM range asks receivers to name their sources (RFC 4604)', () => {
  it('IGMPv1/v2 reports and EXCLUDE-mode records for 232/8 are ignored, with one log line per host', () => {
    const sim = standardSetup();
    const effects = [
      ...sim.igmp(LAN1, '192.168.1.20', v2Report(G)),
      ...sim.igmp(LAN1, '192.168.1.20', v1Report(G)),
      ...sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G, []), record('is-exclude', G, [S2]))),
      ...sim.igmp(LAN1, '192.168.1.20', v2Leave(G)),
    ];
    expect(sim.sent({ interface: UP })).toEqual([]);
    expect(sim.observed(UP, G)).toBeUndefined();
    expect(sim.proxy.snapshot().downstreams[0]!.groups).toEqual([]);
    expect(ofType(sim.upcall(UP, S1, G), 'set-route')).toEqual([]);
    const logs = ofType(effects, 'log').filter((l) => l.message.includes('source-specific range'));
    expect(logs.map((l) => l.message)).toEqual([
      `lan1: IGMPv2 report for ${G} from 192.168.1.20 ignored: in the source-specific range 232.0.0.0/8 a receiver must name its sources (IGMPv3 INCLUDE)`,
    ]);
  });

  it('in one report, the INCLUDE record for 232/8 counts while the EXCLUDE one for it is dropped; other groups keep EXCLUDE', () => {
    const sim = standardSetup();
    const G2 = '239.2.2.2';
    const join = sim.igmp(
      LAN1,
      '192.168.1.20',
      v3Report(record('to-exclude', G, []), record('allow', G, [S1]), record('to-exclude', G2, [])),
    );
    expect(recordsOf(join, UP)).toEqual([`allow ${G} [${S1}]`, `to-exclude ${G2} []`]);
    expect(sim.observed(UP, G)).toEqual({ mode: 'include', sources: new Set([ip(S1)]) });
    expect(ofType(sim.upcall(UP, S1, G), 'set-route')).toHaveLength(1);
    expect(ofType(sim.upcall(UP, S2, G), 'set-route')).toEqual([]);
  });
});

describe('SSM with an upstream held in IGMPv1/v2 compatibility (RFC 4604 2.2.1)', () => {
  // v1/v2 reports carry no sources: reporting an SSM group would ask for every source.
  it('reports no SSM group in IGMPv2 (no report, repetition, query answer or leave) and says why; ASM groups as usual', () => {
    const sim = standardSetup();
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    const t = sim.clock;
    const join = sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    expect(sim.logs('warning')).toContain(
      `eth0: upstream querier speaks IGMPv2, which cannot name sources; ${G} (source-specific range 232.0.0.0/8) is not reported there`,
    );
    expect(ofType(join, 'send-igmp').filter((s) => s.interface === UP)).toEqual([]);
    sim.igmp(UP, '100.64.0.1', v2Query(G, 1_000), G);
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    sim.runFor(30_000);
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G, [S1])));
    sim.runFor(5_000);
    expect(sim.sent({ interface: UP, since: t + 1 })).toEqual([]);
    // the downstream side is served as usual: a stream the ISP sends anyway is routed
    const asm = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(describeSends(asm)).toEqual(['eth0 100.64.0.2->239.1.1.1 v2-report 239.1.1.1']);
  });

  it('in IGMPv1 compatibility, too', () => {
    const sim = standardSetup();
    sim.igmp(UP, '100.64.0.1', v1Query(), '224.0.0.1');
    const join = sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G, [S1])));
    expect(ofType(join, 'send-igmp').filter((s) => s.interface === UP)).toEqual([]);
    expect(sim.logs('warning').filter((l) => l.includes('cannot name sources'))).toHaveLength(1);
  });
});

describe('IGMPv3 EXCLUDE', () => {
  it('EXCLUDE {S2} forwards everything but S2 and is reported upstream as TO_EX {S2}', () => {
    const sim = standardSetup();
    const G2 = '239.2.2.2';
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G2, [S2]))), UP)).toEqual([
      `to-exclude ${G2} [${S2}]`,
    ]);
    sim.upcall(UP, S1, G2);
    expect(ofType(sim.upcall(UP, S2, G2), 'set-route')).toEqual([]);
    expect(sim.outputs(S1, G2)).toEqual(['lan1:1']);
    // another downstream wanting everything: the exclude lists intersect to {}
    // (after the TO_EX retransmission; during it the TO_EX itself would carry the new list)
    sim.runFor(2_000);
    expect(recordsOf(sim.igmp(LAN2, '192.168.2.20', v2Report(G2)), UP)).toEqual([`allow ${G2} [${S2}]`]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'exclude', sources: new Set() });
  });

  it('switching from EXCLUDE to INCLUDE {S1} with quickleave narrows the upstream state at once', () => {
    const sim = standardSetup({ quickLeave: true });
    const G2 = '239.2.2.2';
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G2, [])));
    const change = sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-include', G2, [S1])));
    expect(recordsOf(change, UP)).toEqual([`to-include ${G2} [${S1}]`]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'include', sources: new Set([ip(S1)]) });
  });

  it('an IGMPv2 host on the group makes source lists moot (v2 compatibility)', () => {
    const sim = standardSetup();
    const G2 = '239.2.2.2';
    sim.igmp(LAN1, '192.168.1.30', v2Report(G2));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G2, [S2])));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G2, [S1])));
    const group = sim.proxy.snapshot().downstreams[0]!.groups[0]!;
    expect(group.compatibility).toBe(2);
    expect(group.mode).toBe('exclude');
    expect(group.sources).toEqual([]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'exclude', sources: new Set() });
  });
});

describe('RFC 3376 6.4 transitions', () => {
  const S3 = '203.0.113.1';
  const G2 = '239.2.2.2';

  it('INCLUDE(A) + IS_EX(B) -> EXCLUDE(A*B, B-A)', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G2, [S1, S2])));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('is-exclude', G2, [S2, S3])));
    const group = sim.proxy.snapshot().downstreams[0]!.groups[0]!;
    expect(group.mode).toBe('exclude');
    // S2 stays requested (timer running), S3 is excluded (no timer), S1 is dropped
    expect(group.sources).toEqual([
      { source: S2, timerAt: 260_000 },
      { source: S3, timerAt: null },
    ]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'exclude', sources: new Set([ip(S3)]) });
    sim.upcall(UP, S1, G2);
    expect(sim.outputs(S1, G2)).toEqual(['lan1:1']);
    expect(ofType(sim.upcall(UP, S3, G2), 'set-route')).toEqual([]);
  });

  it('EXCLUDE group timer expiry -> INCLUDE with the sources still requested', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G2, [S3])));
    sim.runFor(100_000);
    sim.igmp(LAN1, '192.168.1.21', v3Report(record('allow', G2, [S1])));
    sim.upcall(UP, S2, G2);
    expect(sim.outputs(S2, G2)).toEqual(['lan1:1']);
    sim.runUntil(259_999);
    expect(sim.observed(UP, G2)?.mode).toBe('exclude');
    const expiry = sim.runUntil(260_000);
    expect(recordsOf(expiry, UP)).toEqual([`to-include ${G2} [${S1}]`]);
    expect(ofType(expiry, 'delete-route').map((d) => d.source)).toEqual([ip(S2)]);
    sim.runUntil(360_000);
    expect(sim.observed(UP, G2)).toBeUndefined();
  });

  it('EXCLUDE + BLOCK(A) keeps forwarding until the source-specific queries go unanswered', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', G2, [])));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', G2, [S1])));
    sim.runFor(10_000);
    const t = sim.clock;
    const block = sim.igmp(LAN1, '192.168.1.20', v3Report(record('block', G2, [S1])));
    expect(describeSends(block)).toEqual([`lan1 192.168.1.1->${G2} query v3 ${G2} [${S1}]`]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'exclude', sources: new Set() });
    // S1 leaves X for Y after LMQT: now excluded, and so upstream too
    const expiry = sim.runUntil(t + 2_000);
    expect(recordsOf(expiry, UP)).toEqual([`block ${G2} [${S1}]`]);
    expect(sim.observed(UP, G2)).toEqual({ mode: 'exclude', sources: new Set([ip(S1)]) });
  });
});
