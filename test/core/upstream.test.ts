// Host side towards the upstream router: state-change reports and query answers.
import { describe, expect, it } from 'vitest';
import { ALL_ROUTERS, IGMPV3_ROUTERS } from '../../addon/daemon/net/ipv4.ts';
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
  v2Leave,
  v2Query,
  v2Report,
  v3Query,
  v3Report,
  record,
} from './harness.ts';

describe('joins are reported upstream at once', () => {
  it('IGMPv2 join on a downstream -> v3 TO_EX{} at time 0, repeated once after 1 s', () => {
    const sim = standardSetup();
    const joinedAt = sim.clock;
    expect(joinedAt).toBe(0);
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'), '239.1.1.1');
    const reports = ofType(effects, 'send-igmp').filter((e) => e.interface === UP);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toEqual({
      type: 'send-igmp',
      interface: UP,
      source: ip('100.64.0.2'),
      destination: IGMPV3_ROUTERS,
      message: { type: 'v3-report', records: [{ recordType: 'to-exclude', group: ip('239.1.1.1'), sources: [] }] },
    });
    sim.runFor(60_000);
    const upstream = sim.sent({ interface: UP });
    expect(upstream.map((s) => s.at)).toEqual([joinedAt, joinedAt + 1_000]);
    expect(recordsOf([upstream[1]!.effect])).toEqual(['to-exclude 239.1.1.1 []']);
  });

  it('with an IGMPv2 upstream querier seen -> v2 report to the group, repeated after 10 s', () => {
    const sim = standardSetup();
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    const at = sim.clock;
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(describeSends(effects)).toEqual(['eth0 100.64.0.2->239.1.1.1 v2-report 239.1.1.1']);
    sim.runFor(30_000);
    const reports = sim.sent({ interface: UP, type: 'v2-report' }).filter((s) => s.at >= at);
    // The query itself asked for nothing yet (no group joined then); only the join and its repeat.
    expect(reports.map((s) => s.at)).toEqual([at, at + 10_000]);
  });

  it('with an IGMPv1 upstream querier seen -> v1 report, and no leave', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(UP, '100.64.0.1', v1Query(), '224.0.0.1');
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(describeSends(effects)).toEqual(['eth0 100.64.0.2->239.1.1.1 v1-report 239.1.1.1']);
    const leave = sim.igmp(LAN1, '192.168.1.20', v2Leave('239.1.1.1'), '224.0.0.2');
    expect(sim.proxy.snapshot().upstreams[0]!.joined).toEqual([]);
    expect(ofType(leave, 'send-igmp').filter((e) => e.interface === UP)).toEqual([]);
  });

  it('falls back to IGMPv3 when the older querier is silent for the timeout', () => {
    const sim = standardSetup();
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    sim.runFor(259_999);
    expect(describeSends(sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1')))).toEqual([
      'eth0 100.64.0.2->239.1.1.1 v2-report 239.1.1.1',
    ]);
    sim.runFor(1);
    expect(sim.proxy.snapshot().upstreams[0]!.querierVersion).toBe(3);
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.21', v2Report('239.1.1.2')), UP)).toEqual(['to-exclude 239.1.1.2 []']);
  });

  it('v2 leave upstream goes to 224.0.0.2 when the last member is gone', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(UP, '100.64.0.1', v2Query(), '224.0.0.1');
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    const effects = sim.igmp(LAN1, '192.168.1.20', v2Leave('239.1.1.1'), '224.0.0.2');
    const leave = ofType(effects, 'send-igmp').filter((e) => e.interface === UP);
    expect(leave).toEqual([
      {
        type: 'send-igmp',
        interface: UP,
        source: ip('100.64.0.2'),
        destination: ALL_ROUTERS,
        message: { type: 'v2-leave', group: ip('239.1.1.1') },
      },
    ]);
    // and the pending join retransmission is cancelled
    sim.runFor(30_000);
    expect(sim.sent({ interface: UP, type: 'v2-report', since: sim.clock - 30_000 + 1 })).toEqual([]);
  });

  it('one report carries every group that changed in one event', () => {
    const sim = standardSetup();
    const effects = sim.igmp(
      LAN2,
      '192.168.2.7',
      v3Report(
        record('to-exclude', '239.1.1.1'),
        record('to-exclude', '239.1.1.2'),
        record('allow', '232.1.1.1', ['198.51.100.9']),
      ),
    );
    expect(ofType(effects, 'send-igmp').filter((e) => e.interface === UP)).toHaveLength(1);
    expect(recordsOf(effects, UP)).toEqual([
      'allow 232.1.1.1 [198.51.100.9]',
      'to-exclude 239.1.1.1 []',
      'to-exclude 239.1.1.2 []',
    ]);
  });

  it('a second downstream joining an already joined group sends nothing upstream', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.runFor(5_000);
    expect(
      ofType(sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.1')), 'send-igmp').filter((e) => e.interface === UP),
    ).toEqual([]);
  });
});

describe('upstream queries are answered', () => {
  function joinedThree() {
    const sim = standardSetup({ seed: 42 });
    for (const g of ['239.1.1.1', '239.1.1.2', '239.1.1.3']) sim.igmp(LAN1, '192.168.1.20', v2Report(g));
    sim.runFor(20_000); // past the state-change retransmissions
    return sim;
  }

  it('v2 general query with max resp 10 s -> one v2 report per joined group, each within [0, 10 s)', () => {
    const sim = joinedThree();
    const at = sim.clock;
    expect(
      ofType(sim.igmp(UP, '100.64.0.1', v2Query('0.0.0.0', 10_000), '224.0.0.1'), 'send-igmp').filter(
        (e) => e.interface === UP,
      ),
    ).toEqual([]);
    sim.runFor(20_000);
    const answers = sim.sent({ interface: UP, since: at });
    expect(answers.map((s) => s.effect.message.type)).toEqual(['v2-report', 'v2-report', 'v2-report']);
    expect(answers.map((s) => (s.effect.message as { group: number }).group).sort()).toEqual([
      ip('239.1.1.1'),
      ip('239.1.1.2'),
      ip('239.1.1.3'),
    ]);
    for (const answer of answers) {
      expect(answer.at - at).toBeGreaterThanOrEqual(0);
      expect(answer.at - at).toBeLessThan(10_000);
      expect(answer.effect.destination).toBe((answer.effect.message as { group: number }).group);
    }
    // random delays, not all the same instant
    expect(new Set(answers.map((a) => a.at)).size).toBeGreaterThan(1);
  });

  it('v3 general query -> one current-state report with every joined group within max resp', () => {
    const sim = joinedThree();
    sim.igmp(LAN2, '192.168.2.5', v3Report(record('allow', '232.1.1.1', ['198.51.100.9'])));
    sim.runFor(5_000);
    const at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('0.0.0.0', 5_000), '224.0.0.1');
    sim.runFor(20_000);
    const answers = sim.sent({ interface: UP, since: at });
    expect(answers).toHaveLength(1);
    expect(answers[0]!.at - at).toBeLessThan(5_000);
    expect(answers[0]!.effect.destination).toBe(IGMPV3_ROUTERS);
    expect(recordsOf([answers[0]!.effect])).toEqual([
      'is-include 232.1.1.1 [198.51.100.9]',
      'is-exclude 239.1.1.1 []',
      'is-exclude 239.1.1.2 []',
      'is-exclude 239.1.1.3 []',
    ]);
  });

  it('a second general query before the answer does not add another answer', () => {
    const sim = joinedThree();
    const at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('0.0.0.0', 10_000), '224.0.0.1');
    sim.runFor(1);
    sim.igmp(UP, '100.64.0.1', v3Query('0.0.0.0', 10_000), '224.0.0.1');
    sim.runFor(20_000);
    expect(sim.sent({ interface: UP, since: at })).toHaveLength(1);
  });

  it('group-specific query for a group we have -> a report for it only; for one we lack -> nothing', () => {
    const sim = joinedThree();
    let at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('239.1.1.2', 1_000), '239.1.1.2');
    sim.runFor(2_000);
    const answers = sim.sent({ interface: UP, since: at });
    expect(answers).toHaveLength(1);
    expect(answers[0]!.at - at).toBeLessThan(1_000);
    expect(recordsOf([answers[0]!.effect])).toEqual(['is-exclude 239.1.1.2 []']);
    at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('239.9.9.9', 1_000), '239.9.9.9');
    sim.igmp(UP, '100.64.0.1', v2Query('239.9.9.9', 1_000), '239.9.9.9');
    sim.runFor(20_000);
    expect(sim.sent({ interface: UP, since: at })).toEqual([]);
  });

  it('v2 group-specific query -> one v2 report within its max resp', () => {
    const sim = joinedThree();
    const at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v2Query('239.1.1.3', 1_000), '239.1.1.3');
    sim.runFor(5_000);
    const answers = sim.sent({ interface: UP, since: at });
    expect(describeSends(answers.map((a) => a.effect))).toEqual(['eth0 100.64.0.2->239.1.1.3 v2-report 239.1.1.3']);
    expect(answers[0]!.at - at).toBeLessThan(1_000);
  });

  it('group-and-source-specific query -> IS_IN with the asked sources we want', () => {
    const sim = standardSetup({ seed: 3 });
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', '232.1.1.1', ['198.51.100.9', '198.51.100.10'])));
    sim.runFor(5_000);
    const at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('232.1.1.1', 1_000, ['198.51.100.10', '198.51.100.77']), '232.1.1.1');
    sim.runFor(5_000);
    const answers = sim.sent({ interface: UP, since: at });
    expect(recordsOf(answers.map((a) => a.effect))).toEqual(['is-include 232.1.1.1 [198.51.100.10]']);
  });

  it('pending answers merge (RFC 3376 5.2): two source queries add up; a group query absorbs them', () => {
    const sim = standardSetup({ seed: 11 });
    sim.igmp(
      LAN1,
      '192.168.1.20',
      v3Report(record('allow', '232.1.1.1', ['198.51.100.1', '198.51.100.2', '198.51.100.3'])),
    );
    sim.runFor(5_000);
    let at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('232.1.1.1', 5_000, ['198.51.100.1']), '232.1.1.1');
    sim.igmp(UP, '100.64.0.1', v3Query('232.1.1.1', 5_000, ['198.51.100.2']), '232.1.1.1');
    sim.runFor(10_000);
    expect(recordsOf(sim.sent({ interface: UP, since: at }).map((s) => s.effect))).toEqual([
      'is-include 232.1.1.1 [198.51.100.1,198.51.100.2]',
    ]);
    at = sim.clock;
    sim.igmp(UP, '100.64.0.1', v3Query('232.1.1.1', 5_000, ['198.51.100.1']), '232.1.1.1');
    sim.igmp(UP, '100.64.0.1', v3Query('232.1.1.1', 5_000), '232.1.1.1');
    sim.runFor(10_000);
    expect(recordsOf(sim.sent({ interface: UP, since: at }).map((s) => s.effect))).toEqual([
      'is-include 232.1.1.1 [198.51.100.1,198.51.100.2,198.51.100.3]',
    ]);
  });

  it('queries heard on a downstream are not answered upstream', () => {
    const sim = joinedThree();
    const at = sim.clock;
    sim.igmp(LAN1, '192.168.1.254', v2Query(), '224.0.0.1');
    sim.runFor(20_000);
    expect(sim.sent({ interface: UP, since: at })).toEqual([]);
  });
});

describe('the upstream state of many any-source groups (issue 14, memory)', () => {
  it('one group turning source-specific leaves the others EXCLUDE({}) upstream', () => {
    const sim = standardSetup();
    for (const group of ['239.1.1.1', '239.1.1.2', '239.1.1.3'])
      sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-exclude', group)));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('to-include', '239.1.1.2', ['198.51.100.7'])));
    sim.runFor(30_000);
    expect(sim.proxy.snapshot().upstreams[0]!.joined).toEqual([
      { group: '239.1.1.1', mode: 'exclude', sources: [] },
      { group: '239.1.1.2', mode: 'include', sources: ['198.51.100.7'] },
      { group: '239.1.1.3', mode: 'exclude', sources: [] },
    ]);
  });
});
