// Router-side group membership of one downstream interface: RFC 3376 section 6 as the
// events that drive it (reports, leaves, queries heard, timer expiry per 6.5) and section
// 7.3.2 (older hosts per group). Each record is one row of the 6.4 tables, which are data
// in membership-table.ts; applyRecord() carries the row out. The parts with rules of their own:
//   group-state.ts          one group's state and its timers (group, source, older-host, retransmission)
//   last-member-queries.ts  6.6.3 queries (S flag, IGMPv2 form) and their retransmissions
//   host-tracking.ts        each host's own filter, for quickleave, and the per-host group count
//
// Quickleave: when no tracked host still wants a group or source, the last-member procedure
// expires it at once instead of after the last member query time. The queries are still
// sent, so a listener we never heard (an IGMPv2 host whose report was suppressed by
// another's) answers and re-joins.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecordType, IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import { sorted } from './sources.ts';
import { QUERY_TIMER_RULES, bindLetters, sourcesOf, transitionFor } from './membership-table.ts';
import type { FilterMode, QueryTimerRow } from './membership-table.ts';
import { ALL_SOURCES_FILTER, HostTracking, anyHostWants, anyHostWantsAllSources } from './host-tracking.ts';
import { GroupState, lowerTimer } from './group-state.ts';
import type { GroupTimerHandlers } from './group-state.ts';
import { LastMemberQueries } from './last-member-queries.ts';

export type { FilterMode } from './membership-table.ts';

/** A filter as RFC 4605 merges them: INCLUDE(list) or EXCLUDE(list). */
export interface Subscription {
  readonly mode: FilterMode;
  readonly sources: ReadonlySet<Ipv4>;
}

/** What the membership of one interface needs from its owner. */
export interface DownstreamPort {
  readonly name: string;
  isQuerier(): boolean;
  /** Send a query out of this interface (the port fills in the source address). */
  sendQuery(message: IgmpQuery, destination: Ipv4): void;
  /** The forwarding state of `group` on this interface may have changed. */
  changed(group: Ipv4): void;
  /** A group appeared or went, or a receiver joined or left one (what the status document lists). */
  membersChanged?(): void;
}

export interface GroupSnapshot {
  readonly group: string;
  readonly mode: FilterMode;
  readonly compatibility: 1 | 2 | 3;
  readonly groupTimerAt: number | null;
  readonly sources: readonly { readonly source: string; readonly timerAt: number | null }[];
  readonly hosts: readonly string[];
}

export class Membership {
  private readonly groups = new Map<Ipv4, GroupState>();
  /** Per-host filters (quickleave) and per host its group count (the groups-per-host limit). */
  private readonly hostTracking = new HostTracking(() => this.port.membersChanged?.());
  private readonly ctx: CoreContext;
  private readonly port: DownstreamPort;
  private readonly timerHandlers: GroupTimerHandlers;
  private readonly queries: LastMemberQueries;

  constructor(ctx: CoreContext, port: DownstreamPort) {
    this.ctx = ctx;
    this.port = port;
    this.queries = new LastMemberQueries(ctx, port);
    this.timerHandlers = {
      groupTimerFired: (state) => this.onGroupTimer(state),
      sourceTimerFired: (state, source) => this.onSourceTimer(state, source),
      retransmitDue: (state, deadline) => this.queries.retransmit(state, deadline),
    };
  }

  groupAddresses(): IterableIterator<Ipv4> {
    return this.groups.keys();
  }

  // ---- counts the limits check (admission.ts) ------------------------------------------

  get groupCount(): number {
    return this.groups.size;
  }

  hasGroup(group: Ipv4): boolean {
    return this.groups.has(group);
  }

  /** Groups `host` is tracked in. An IGMPv2 host that went silent without a leave stays
   * counted until its group expires (hosts are not aged one by one). */
  hostGroupCount(host: Ipv4): number {
    return this.hostTracking.groupCount(host);
  }

  isHostMember(group: Ipv4, host: Ipv4): boolean {
    return this.groups.get(group)?.hosts.has(host) ?? false;
  }

  /** Sources in the group's state, and how many of `list` it does not hold yet. */
  sourceCounts(group: Ipv4, list: readonly Ipv4[]): { readonly held: number; readonly added: number } {
    const state = this.groups.get(group);
    if (state === undefined) return { held: 0, added: new Set(list).size };
    let added = 0;
    for (const source of new Set(list)) if (!state.sources.has(source)) added++;
    return { held: state.sources.size, added };
  }

  /** The interface's filter for `group` (RFC 4605 merging input), undefined when nobody listens. */
  subscription(group: Ipv4): Subscription | undefined {
    const state = this.groups.get(group);
    if (state === undefined) return undefined;
    const sources = new Set<Ipv4>();
    for (const record of state.sources.values()) {
      // INCLUDE: every record is included; EXCLUDE: stopped records form the exclude list.
      if (state.mode === 'include' || !record.timer.running) sources.add(record.address);
    }
    return { mode: state.mode, sources };
  }

  /** Does this interface want traffic from `source` to `group`? */
  forwards(group: Ipv4, source: Ipv4): boolean {
    const state = this.groups.get(group);
    if (state === undefined) return false;
    const record = state.sources.get(source);
    if (state.mode === 'include') return record !== undefined;
    return record === undefined || record.timer.running;
  }

  // ---- reports -------------------------------------------------------------------

  /** IGMPv1 report: IS_EX({}) with the v1 host present timer (7.3.2). */
  v1Report(host: Ipv4, group: Ipv4): void {
    const state = this.ensure(group);
    state.olderHostPresent(1, this.ctx.now() + this.ctx.settings.olderHostPresentIntervalMs);
    this.hostTracking.set(state.hosts, host, ALL_SOURCES_FILTER);
    this.applyRecord(state, 'is-exclude', []);
  }

  /** IGMPv2 report: IS_EX({}) with the v2 host present timer. */
  v2Report(host: Ipv4, group: Ipv4): void {
    const state = this.ensure(group);
    state.olderHostPresent(2, this.ctx.now() + this.ctx.settings.olderHostPresentIntervalMs);
    this.hostTracking.set(state.hosts, host, ALL_SOURCES_FILTER);
    this.applyRecord(state, 'is-exclude', []);
  }

  /** IGMPv2 leave: TO_IN({}); ignored while a v1 host is present (7.3.2). */
  v2Leave(host: Ipv4, group: Ipv4): void {
    const state = this.groups.get(group);
    if (state === undefined) return;
    this.hostTracking.remove(state.hosts, host);
    if (state.compatibility === 1) return;
    this.applyRecord(state, 'to-include', []);
  }

  /** One IGMPv3 group record from `host`. */
  v3Record(host: Ipv4, recordType: GroupRecordType, group: Ipv4, sourceList: readonly Ipv4[]): void {
    let state = this.groups.get(group);
    if (state === undefined) {
      // Only a record that asks for something creates state.
      const asksForSomething =
        recordType === 'is-exclude' || recordType === 'to-exclude' || (recordType !== 'block' && sourceList.length > 0);
      if (!asksForSomething) return;
      state = this.ensure(group);
    }
    this.hostTracking.record(state.hosts, host, recordType, sourceList);
    const compatibility = state.compatibility;
    let sources = sourceList;
    if (compatibility < 3) {
      // 7.3.2: older hosts cannot filter sources, so their group stays EXCLUDE({}).
      if (recordType === 'block') return;
      if (recordType === 'to-include' && compatibility === 1) return;
      if (recordType === 'to-exclude' || recordType === 'is-exclude') sources = [];
    }
    this.applyRecord(state, recordType, sources);
  }

  // ---- queries heard from the elected querier while we are not it (6.6.1) ----------

  queryHeard(query: IgmpQuery): void {
    if (query.group === 0 || query.v3?.suppressRouterSide === true) return;
    const state = this.groups.get(query.group);
    if (state === undefined) return;
    // The querier's LMQT: its Max Resp Time times its QRV (ours when it sends none).
    const count =
      query.v3 !== undefined && query.v3.robustness > 0 ? query.v3.robustness : this.ctx.settings.lastMemberQueryCount;
    const deadline = this.ctx.now() + query.maxResponseMs * count;
    const sources = query.v3?.sources ?? [];
    if (sources.length === 0) this.lowerForQuery(QUERY_TIMER_RULES.group, state, [], deadline);
    else this.lowerForQuery(QUERY_TIMER_RULES.groupAndSource, state, sources, deadline);
  }

  // ---- teardown ------------------------------------------------------------------

  /** Forget everything (interface gone); returns the groups that had listeners. */
  clear(): Ipv4[] {
    const groups = [...this.groups.keys()];
    for (const state of this.groups.values()) state.stopTimers();
    this.groups.clear();
    this.hostTracking.clear();
    return groups;
  }

  snapshot(): GroupSnapshot[] {
    return sorted(this.groups.keys()).map((group) => {
      const state = this.groups.get(group)!;
      return {
        group: formatIpv4(group),
        mode: state.mode,
        compatibility: state.compatibility,
        groupTimerAt: state.groupTimer.running ? state.groupTimer.deadline : null,
        sources: sorted(state.sources.keys()).map((source) => {
          const timer = state.sources.get(source)!.timer;
          return { source: formatIpv4(source), timerAt: timer.running ? timer.deadline : null };
        }),
        hosts: sorted(state.hosts.keys()).map(formatIpv4),
      };
    });
  }

  // ---- RFC 3376 6.4: one row of membership-table.ts --------------------------------

  private applyRecord(state: GroupState, type: GroupRecordType, list: readonly Ipv4[]): void {
    const row = transitionFor(state.mode, type);
    const gmi = this.ctx.now() + this.ctx.settings.groupMembershipIntervalMs;
    const changedBefore = this.forwardingKey(state);
    // The RFC's sets and "Group Timer" mean the state before the record.
    const letters = bindLetters(
      state.mode,
      [...state.sources.values()].map((r) => ({ address: r.address, running: r.timer.running })),
      list,
    );
    const groupTimerBefore = state.groupTimer.deadline;
    for (const set of row.deleteSources) for (const s of sourcesOf(set, letters)) state.deleteSource(s);
    for (const { sources, timer } of row.sourceTimers) {
      for (const s of sourcesOf(sources, letters)) {
        if (timer === 'zero') state.addExcluded(s);
        else state.startSource(s, timer === 'GMI' ? gmi : groupTimerBefore);
      }
    }
    state.mode = row.newMode;
    if (row.groupTimerToGmi) state.groupTimer.start(gmi);
    for (const query of row.queries) {
      if (query.kind === 'group') this.queryGroup(state);
      else this.querySources(state, sourcesOf(query.sources, letters));
    }
    if (this.isLive(state) && this.forwardingKey(state) !== changedBefore) this.port.changed(state.group);
  }

  /** A cheap fingerprint of what the group forwards, to notify only real changes. */
  private forwardingKey(state: GroupState): string {
    const parts: string[] = [state.mode];
    for (const record of state.sources.values()) {
      if (state.mode === 'include' || !record.timer.running) parts.push(String(record.address));
    }
    return parts.sort().join(',');
  }

  // ---- 6.6.3 last-member procedure: quickleave or lowered timers; last-member-queries.ts asks

  /** Q(G): the querier lowers the group timer to LMQT and queries LMQC times. */
  private queryGroup(state: GroupState): void {
    const compatibility = state.compatibility;
    const querier = this.port.isQuerier();
    if (this.ctx.quickLeave() && !anyHostWantsAllSources(state.hosts)) {
      // Nobody we know still wants all sources: end EXCLUDE mode now; still ask below.
      if (state.mode === 'exclude') this.groupTimerExpired(state);
    } else if (querier) {
      this.lowerForQuery(QUERY_TIMER_RULES.group, state, [], this.ctx.now() + this.ctx.settings.lastMemberQueryTimeMs);
    }
    // v1 hosts never leave, so a v1-compatible group is not queried (7.3.2).
    if (!querier || compatibility === 1) return;
    this.queries.sendGroupQuery(state, compatibility);
    if (this.isLive(state)) this.queries.schedule(state, true, []);
  }

  /** Q(G, sources): lowers those source timers to LMQT and queries LMQC times (IGMPv3 only). */
  private querySources(state: GroupState, sources: readonly Ipv4[]): void {
    const compatibility = state.compatibility;
    const querier = this.port.isQuerier();
    const queried: Ipv4[] = [];
    for (const s of sources) {
      const record = state.sources.get(s);
      if (record === undefined || !record.timer.running) continue;
      queried.push(s);
      if (this.ctx.quickLeave() && !anyHostWants(state.hosts, s)) {
        this.sourceTimerExpired(state, s);
      } else if (querier && compatibility === 3) {
        this.lowerForQuery(
          QUERY_TIMER_RULES.groupAndSource,
          state,
          [s],
          this.ctx.now() + this.ctx.settings.lastMemberQueryTimeMs,
        );
      }
    }
    // Older hosts cannot answer source-specific queries (7.3.2); their group is EXCLUDE({}).
    if (!querier || compatibility < 3 || queried.length === 0) return;
    this.queries.sendSourceQueries(state, queried);
    if (this.isLive(state)) this.queries.schedule(state, false, queried);
  }

  private isLive(state: GroupState): boolean {
    return this.groups.get(state.group) === state;
  }

  // ---- timers ------------------------------------------------------------------------

  private groupTimerExpired(state: GroupState): void {
    state.groupTimer.stop();
    if (state.mode !== 'exclude') return;
    // 6.5: EXCLUDE -> INCLUDE with the requested sources; the exclude list is dropped.
    for (const record of [...state.sources.values()]) if (!record.timer.running) state.deleteSource(record.address);
    state.mode = 'include';
    this.hostTracking.excludeModeEnded(state.hosts);
    this.afterExpiry(state);
  }

  private sourceTimerExpired(state: GroupState, source: Ipv4): void {
    const record = state.sources.get(source);
    if (record === undefined) return;
    record.timer.stop();
    // INCLUDE: the source is gone. EXCLUDE: it stays as an exclude-list entry (stopped timer).
    if (state.mode === 'include') state.deleteSource(source);
    this.hostTracking.sourceExpired(state.hosts, source);
    this.afterExpiry(state);
  }

  private afterExpiry(state: GroupState): void {
    if (state.mode === 'include' && state.sources.size === 0) this.deleteGroup(state);
    this.port.changed(state.group);
  }

  private deleteGroup(state: GroupState): void {
    state.stopTimers();
    this.hostTracking.removeAll(state.hosts);
    if (this.groups.delete(state.group)) this.port.membersChanged?.();
  }

  /** RFC 3376 6.6.1 for a query about `state`'s group (and `sources`): lower to `deadline`. */
  private lowerForQuery(rule: QueryTimerRow, state: GroupState, sources: readonly Ipv4[], deadline: number): void {
    if (rule.lowers === 'group timer') {
      // Only EXCLUDE mode has a group timer that counts (6.5).
      if (state.mode === 'exclude') lowerTimer(state.groupTimer, deadline);
      return;
    }
    for (const source of sources) {
      const record = state.sources.get(source);
      if (record !== undefined) lowerTimer(record.timer, deadline);
    }
  }

  // ---- records -----------------------------------------------------------------------

  private ensure(group: Ipv4): GroupState {
    let state = this.groups.get(group);
    if (state === undefined) {
      state = new GroupState(group, this.ctx.timers, this.timerHandlers);
      this.groups.set(group, state);
      this.port.membersChanged?.();
    }
    return state;
  }

  private onGroupTimer(state: GroupState): void {
    if (this.groups.get(state.group) !== state) return;
    this.ctx.log('debug', `${this.port.name}: group ${formatIpv4(state.group)} timer expired`);
    this.groupTimerExpired(state);
  }

  private onSourceTimer(state: GroupState, source: Ipv4): void {
    if (this.groups.get(state.group) !== state) return;
    this.sourceTimerExpired(state, source);
  }
}
