// RFC 3376 6.6.3: the queries a querier sends when a report or leave may have ended a group
// or some of its sources, and their retransmissions (Last Member Query Count in all, Last
// Member Query Interval apart). Membership decides when to ask and lowers the timers (6.6.1,
// membership-table.ts); this module builds the queries (the S flag of 6.6.3.1/6.6.3.2 and the
// IGMPv2 form for v2-compatible groups) and keeps the retransmission count per group and source.
import type { Ipv4 } from '../net/ipv4.ts';
import type { IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import type { GroupState } from './group-state.ts';
import { sorted } from './sources.ts';

/** What the queries need from their interface. */
export interface QueryPort {
  isQuerier(): boolean;
  /** Send a query out of this interface (the port fills in the source address). */
  sendQuery(message: IgmpQuery, destination: Ipv4): void;
}

export class LastMemberQueries {
  private readonly ctx: CoreContext;
  private readonly port: QueryPort;

  constructor(ctx: CoreContext, port: QueryPort) {
    this.ctx = ctx;
    this.port = port;
  }

  /** LMQC-1 more queries for the group and/or `sources`, LMQI apart. */
  schedule(state: GroupState, group: boolean, sources: readonly Ipv4[]): void {
    const left = this.ctx.settings.lastMemberQueryCount - 1;
    if (left <= 0) return;
    if (group) state.groupQueriesLeft = left;
    if (sources.length > 0) {
      state.sourceQueriesLeft ??= new Map();
      for (const s of sources) state.sourceQueriesLeft.set(s, left);
    }
    state.retransmitTimer.start(this.ctx.now() + this.ctx.settings.lastMemberQueryIntervalMs);
  }

  /** The retransmission timer fired at `deadline`: the next round, while we are querier. */
  retransmit(state: GroupState, deadline: number): void {
    if (!this.port.isQuerier()) {
      state.groupQueriesLeft = 0;
      state.sourceQueriesLeft = undefined;
      return;
    }
    if (state.groupQueriesLeft > 0) {
      state.groupQueriesLeft--;
      if (state.compatibility > 1) this.sendGroupQuery(state, state.compatibility);
    }
    const sources: Ipv4[] = [];
    const left = state.sourceQueriesLeft;
    for (const [s, count] of left === undefined ? [] : [...left]) {
      if (count <= 1) left?.delete(s);
      else left?.set(s, count - 1);
      if (state.sources.get(s)?.timer.running === true) sources.push(s);
    }
    if (left?.size === 0) state.sourceQueriesLeft = undefined;
    if (sources.length > 0 && state.compatibility === 3) this.sendSourceQueries(state, sources);
    if (state.groupQueriesLeft > 0 || (state.sourceQueriesLeft?.size ?? 0) > 0) {
      state.retransmitTimer.start(deadline + this.ctx.settings.lastMemberQueryIntervalMs);
    }
  }

  /** Q(G): IGMPv2 while a v2 host is present, else IGMPv3 with the S flag per 6.6.3.1. */
  sendGroupQuery(state: GroupState, compatibility: 1 | 2 | 3): void {
    const settings = this.ctx.settings;
    const lmqi = settings.lastMemberQueryIntervalMs;
    if (compatibility < 3) {
      this.port.sendQuery({ type: 'query', version: 2, maxResponseMs: lmqi, group: state.group }, state.group);
      return;
    }
    // 6.6.3.1: S flag set when a report already pushed the group timer above LMQT.
    const suppress = state.groupTimer.remaining(this.ctx.now()) > settings.lastMemberQueryTimeMs;
    this.port.sendQuery(this.v3Query(state.group, suppress, []), state.group);
  }

  /** Q(G,S): IGMPv3, split by the S flag per 6.6.3.2. */
  sendSourceQueries(state: GroupState, sources: readonly Ipv4[]): void {
    // 6.6.3.2: sources whose timers exceed LMQT go in a query with S set, the rest without.
    const now = this.ctx.now();
    const lmqt = this.ctx.settings.lastMemberQueryTimeMs;
    const withS: Ipv4[] = [];
    const withoutS: Ipv4[] = [];
    for (const s of sorted(sources)) {
      const timer = state.sources.get(s)?.timer;
      if (timer !== undefined && timer.remaining(now) > lmqt) withS.push(s);
      else withoutS.push(s);
    }
    if (withS.length > 0) this.port.sendQuery(this.v3Query(state.group, true, withS), state.group);
    if (withoutS.length > 0) this.port.sendQuery(this.v3Query(state.group, false, withoutS), state.group);
  }

  private v3Query(group: Ipv4, suppressRouterSide: boolean, sources: readonly Ipv4[]): IgmpQuery {
    const settings = this.ctx.settings;
    return {
      type: 'query',
      version: 3,
      maxResponseMs: settings.lastMemberQueryIntervalMs,
      group,
      v3: {
        suppressRouterSide,
        robustness: settings.robustness,
        queryIntervalSeconds: settings.queryIntervalMs / 1000,
        sources,
      },
    };
  }
}
