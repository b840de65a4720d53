// core/last-member-queries.ts alone: the 6.6.3 queries (S flag per 6.6.3.1 / 6.6.3.2, the
// IGMPv2 form for v2-compatible groups) and their retransmissions, on a GroupState with the
// real timer queue, a fake clock and a port that records what is sent.
import { describe, expect, it } from 'vitest';
import { LastMemberQueries } from '../../addon/daemon/core/last-member-queries.ts';
import { GroupState } from '../../addon/daemon/core/group-state.ts';
import type { CoreContext } from '../../addon/daemon/core/context.ts';
import { DEFAULT_SETTINGS, deriveSettings } from '../../addon/daemon/core/settings.ts';
import type { ProtocolSettings } from '../../addon/daemon/core/settings.ts';
import { TimerQueue } from '../../addon/daemon/core/timers.ts';
import type { IgmpQuery } from '../../addon/daemon/igmp/types.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip } from './harness.ts';

const GROUP = ip('239.1.2.3');
const [s1, s2, s3] = [ip('10.0.0.1'), ip('10.0.0.2'), ip('10.0.0.3')];
const LMQI = DEFAULT_SETTINGS.lastMemberQueryIntervalMs;
const LMQT = DEFAULT_SETTINGS.lastMemberQueryTimeMs;

function rig(settings: ProtocolSettings = DEFAULT_SETTINGS) {
  let clock = 0;
  const timers = new TimerQueue();
  const sent: { at: number; query: IgmpQuery }[] = [];
  const port = {
    querier: true,
    isQuerier: () => port.querier,
    sendQuery: (query: IgmpQuery, destination: number) => {
      expect(destination).toBe(GROUP);
      sent.push({ at: clock, query });
    },
  };
  const ctx: CoreContext = {
    settings,
    timers,
    now: () => clock,
    random: () => 0.5,
    emit: () => undefined,
    log: () => undefined,
    quickLeave: () => false,
  };
  const queries = new LastMemberQueries(ctx, port);
  const state = new GroupState(GROUP, timers, {
    groupTimerFired: () => undefined,
    sourceTimerFired: () => undefined,
    retransmitDue: (s, deadline) => queries.retransmit(s, deadline),
  });
  /** Runs each timer at its own deadline up to `ms` (at most 100 steps). */
  const runUntil = (ms: number): void => {
    for (let step = 0; step < 100; step++) {
      const next = timers.nextDeadline();
      if (next === undefined || next > ms) break;
      clock = next;
      timers.runDue(clock);
    }
    clock = ms;
  };
  return { queries, state, sent, port, timers, runUntil };
}

/** "v3 S 10.0.0.1,10.0.0.2" / "v2" */
function describeQuery(query: IgmpQuery): string {
  if (query.version !== 3) return `v${query.version}`;
  return `v3${query.v3!.suppressRouterSide ? ' S' : ''} ${query.v3!.sources.map(formatIpv4).join(',')}`.trim();
}

describe('LastMemberQueries: the queries', () => {
  it('Q(G) in IGMPv3: LMQI as max response, our QRV and QQIC; S set only while the group timer is above LMQT (6.6.3.1)', () => {
    const r = rig();
    r.state.groupTimer.start(LMQT);
    r.queries.sendGroupQuery(r.state, 3);
    r.state.groupTimer.start(LMQT + 1);
    r.queries.sendGroupQuery(r.state, 3);
    expect(r.sent.map((s) => describeQuery(s.query))).toEqual(['v3', 'v3 S']);
    expect(r.sent[0]!.query).toEqual({
      type: 'query',
      version: 3,
      maxResponseMs: LMQI,
      group: GROUP,
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
    });
  });

  it('Q(G) while an IGMPv2 host is present is an IGMPv2 group-specific query', () => {
    const r = rig();
    r.queries.sendGroupQuery(r.state, 2);
    expect(r.sent.map((s) => s.query)).toEqual([{ type: 'query', version: 2, maxResponseMs: LMQI, group: GROUP }]);
  });

  it('Q(G,S) splits the sources by their timers: above LMQT with S set, the rest without, each sorted (6.6.3.2)', () => {
    const r = rig();
    r.state.startSource(s3, LMQT + 5);
    r.state.startSource(s1, LMQT + 5);
    r.state.startSource(s2, LMQT);
    r.queries.sendSourceQueries(r.state, [s3, s2, s1]);
    expect(r.sent.map((s) => describeQuery(s.query))).toEqual(['v3 S 10.0.0.1,10.0.0.3', 'v3 10.0.0.2']);
  });
});

describe('LastMemberQueries: retransmissions', () => {
  it('with LMQC 3, two more rounds LMQI apart, then none', () => {
    const r = rig(deriveSettings(3, 125_000, 10_000, LMQI));
    r.state.groupTimer.start(60_000);
    r.state.startSource(s1, 60_000);
    r.queries.schedule(r.state, true, [s1]);
    r.runUntil(10 * LMQI);
    expect(r.sent.map((s) => `${s.at} ${describeQuery(s.query)}`)).toEqual([
      `${LMQI} v3 S`,
      `${LMQI} v3 S 10.0.0.1`,
      `${2 * LMQI} v3 S`,
      `${2 * LMQI} v3 S 10.0.0.1`,
    ]);
    expect(r.state.groupQueriesLeft).toBe(0);
    expect(r.state.sourceQueriesLeft).toBeUndefined();
  });

  it('with LMQC 1 nothing is scheduled', () => {
    const r = rig(deriveSettings(1, 125_000, 10_000, LMQI));
    r.queries.schedule(r.state, true, [s1]);
    expect(r.timers.size).toBe(0);
  });

  it('a source whose timer stopped meanwhile is not asked about again', () => {
    const r = rig();
    r.state.startSource(s1, 60_000);
    r.state.startSource(s2, 60_000);
    r.queries.schedule(r.state, false, [s1, s2]);
    r.state.sources.get(s2)!.timer.stop();
    r.runUntil(10 * LMQI);
    expect(r.sent.map((s) => describeQuery(s.query))).toEqual(['v3 S 10.0.0.1']);
  });

  it('once another router is querier the remaining rounds are dropped', () => {
    const r = rig(deriveSettings(3, 125_000, 10_000, LMQI));
    r.state.startSource(s1, 60_000);
    r.queries.schedule(r.state, true, [s1]);
    r.port.querier = false;
    r.runUntil(10 * LMQI);
    expect(r.sent).toEqual([]);
    expect(r.state.groupQueriesLeft).toBe(0);
    expect(r.state.sourceQueriesLeft).toBeUndefined();
    expect(r.timers.size).toBe(1);
  });

  it('a group that turned IGMPv1-compatible uses up its rounds without a query (v1 hosts cannot answer)', () => {
    const r = rig();
    r.queries.schedule(r.state, true, []);
    r.state.olderHostPresent(1, 100_000);
    r.runUntil(10 * LMQI);
    expect(r.sent).toEqual([]);
    expect(r.state.groupQueriesLeft).toBe(0);
  });
});
