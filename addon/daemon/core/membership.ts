// Router-side group membership of one downstream interface: RFC 3376 section 6 (filter
// mode, group and source timers, 6.6.3 last-member queries) and section 7.3.2 (host
// compatibility mode per group). The 6.4 state tables are data in membership-table.ts;
// applyRecord() carries out a row.
//
// Source records: in INCLUDE mode every record has a running timer (the include list).
// In EXCLUDE mode a record with a running timer is in the RFC's "requested list" X
// (forwarded), a record whose timer stopped is in the "exclude list" Y (not forwarded).
//
// On top of the RFC state, each reporting host's own filter is tracked exactly (a Map
// keyed by host address, no hash). It only drives quickleave: when no tracked host still
// wants a group or source, the last-member procedure expires it at once instead of after
// the last member query time. The queries are still sent, so a listener we never heard
// (an IGMPv2 host whose report was suppressed by another's) answers and re-joins.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecordType, IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import type { Timer, TimerQueue } from './timers.ts';
import { sorted } from './sources.ts';
import { QUERY_TIMER_RULES, bindLetters, sourcesOf, transitionFor } from './membership-table.ts';
import type { FilterMode, QueryTimerRow } from './membership-table.ts';

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

interface SourceRecord {
  readonly address: Ipv4;
  readonly timer: Timer;
}

interface HostFilter {
  mode: FilterMode;
  sources: Set<Ipv4>;
}

/** What a group's timers call back in its Membership. */
interface GroupTimerHandlers {
  groupTimerFired(state: GroupState): void;
  retransmitDue(state: GroupState, deadline: number): void;
}

const nothing = (): void => undefined;

/**
 * One group on one interface. Most groups are one TV's any-source join that only ever
 * needs the group timer; the older-host timers, the retransmission timer and the source
 * query counts are made on first use (per-group memory, issue 14).
 */
class GroupState {
  mode: FilterMode = 'include';
  readonly sources = new Map<Ipv4, SourceRecord>();
  readonly hosts = new Map<Ipv4, HostFilter>();
  groupQueriesLeft = 0;
  /** Sources with last-member query retransmissions left; undefined until the first. */
  sourceQueriesLeft: Map<Ipv4, number> | undefined;
  readonly group: Ipv4;
  readonly groupTimer: Timer;
  private readonly timers: TimerQueue;
  private readonly handlers: GroupTimerHandlers;
  private v1HostTimer: Timer | undefined;
  private v2HostTimer: Timer | undefined;
  private retransmission: Timer | undefined;

  constructor(group: Ipv4, timers: TimerQueue, handlers: GroupTimerHandlers) {
    this.group = group;
    this.timers = timers;
    this.handlers = handlers;
    this.groupTimer = timers.create(() => handlers.groupTimerFired(this));
  }

  /** RFC 3376 7.3.2: the oldest host version heard within the Older Host Present Interval. */
  get compatibility(): 1 | 2 | 3 {
    if (this.v1HostTimer?.running === true) return 1;
    if (this.v2HostTimer?.running === true) return 2;
    return 3;
  }

  /** An IGMPv1 or v2 host reported: compatibility mode until `deadline` (7.3.2). */
  olderHostPresent(version: 1 | 2, deadline: number): void {
    const timer = version === 1 ? (this.v1HostTimer ??= this.timers.create(nothing)) : (this.v2HostTimer ??= this.timers.create(nothing));
    timer.start(deadline);
  }

  get retransmitTimer(): Timer {
    return (this.retransmission ??= this.timers.create((deadline) => this.handlers.retransmitDue(this, deadline)));
  }

  stopTimers(): void {
    this.groupTimer.stop();
    this.v1HostTimer?.stop();
    this.v2HostTimer?.stop();
    this.retransmission?.stop();
    for (const record of this.sources.values()) record.timer.stop();
  }
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
  /** Per host, the groups whose host filters list it (the groups-per-host limit counts these). */
  private readonly groupsOfHost = new Map<Ipv4, number>();
  private readonly ctx: CoreContext;
  private readonly port: DownstreamPort;
  private readonly timerHandlers: GroupTimerHandlers;

  constructor(ctx: CoreContext, port: DownstreamPort) {
    this.ctx = ctx;
    this.port = port;
    this.timerHandlers = {
      groupTimerFired: (state) => this.onGroupTimer(state),
      retransmitDue: (state, deadline) => this.retransmit(state, deadline),
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
    return this.groupsOfHost.get(host) ?? 0;
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
    this.setHost(state, host, { mode: 'exclude', sources: new Set() });
    this.applyRecord(state, 'is-exclude', []);
  }

  /** IGMPv2 report: IS_EX({}) with the v2 host present timer. */
  v2Report(host: Ipv4, group: Ipv4): void {
    const state = this.ensure(group);
    state.olderHostPresent(2, this.ctx.now() + this.ctx.settings.olderHostPresentIntervalMs);
    this.setHost(state, host, { mode: 'exclude', sources: new Set() });
    this.applyRecord(state, 'is-exclude', []);
  }

  /** IGMPv2 leave: TO_IN({}); ignored while a v1 host is present (7.3.2). */
  v2Leave(host: Ipv4, group: Ipv4): void {
    const state = this.groups.get(group);
    if (state === undefined) return;
    this.removeHost(state, host);
    if (state.compatibility === 1) return;
    this.applyRecord(state, 'to-include', []);
  }

  /** One IGMPv3 group record from `host`. */
  v3Record(host: Ipv4, recordType: GroupRecordType, group: Ipv4, sourceList: readonly Ipv4[]): void {
    let state = this.groups.get(group);
    if (state === undefined) {
      // Only a record that asks for something creates state.
      const asksForSomething = recordType === 'is-exclude' || recordType === 'to-exclude' || (recordType !== 'block' && sourceList.length > 0);
      if (!asksForSomething) return;
      state = this.ensure(group);
    }
    this.updateHost(state, host, recordType, sourceList);
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
    const count = query.v3 !== undefined && query.v3.robustness > 0 ? query.v3.robustness : this.ctx.settings.lastMemberQueryCount;
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
    this.groupsOfHost.clear();
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
    const letters = bindLetters(state.mode, [...state.sources.values()].map((r) => ({ address: r.address, running: r.timer.running })), list);
    const groupTimerBefore = state.groupTimer.deadline;
    for (const set of row.deleteSources) for (const s of sourcesOf(set, letters)) this.deleteSource(state, s);
    for (const { sources, timer } of row.sourceTimers) {
      for (const s of sourcesOf(sources, letters)) {
        if (timer === 'zero') this.addExcluded(state, s);
        else this.startSource(state, s, timer === 'GMI' ? gmi : groupTimerBefore);
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

  // ---- 6.6.3 last-member queries -----------------------------------------------------

  /** Q(G): the querier lowers the group timer to LMQT and queries LMQC times. */
  private queryGroup(state: GroupState): void {
    const compatibility = state.compatibility;
    const querier = this.port.isQuerier();
    if (this.ctx.quickLeave() && ![...state.hosts.values()].some((h) => h.mode === 'exclude')) {
      // Nobody we know still wants all sources: end EXCLUDE mode now; still ask below.
      if (state.mode === 'exclude') this.groupTimerExpired(state);
    } else if (querier) {
      this.lowerForQuery(QUERY_TIMER_RULES.group, state, [], this.ctx.now() + this.ctx.settings.lastMemberQueryTimeMs);
    }
    // v1 hosts never leave, so a v1-compatible group is not queried (7.3.2).
    if (!querier || compatibility === 1) return;
    this.sendGroupQuery(state, compatibility);
    if (this.isLive(state)) this.scheduleRetransmissions(state, true, []);
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
      if (this.ctx.quickLeave() && !this.anyHostWants(state, s)) {
        this.sourceTimerExpired(state, s);
      } else if (querier && compatibility === 3) {
        this.lowerForQuery(QUERY_TIMER_RULES.groupAndSource, state, [s], this.ctx.now() + this.ctx.settings.lastMemberQueryTimeMs);
      }
    }
    // Older hosts cannot answer source-specific queries (7.3.2); their group is EXCLUDE({}).
    if (!querier || compatibility < 3 || queried.length === 0) return;
    this.sendSourceQueries(state, queried);
    if (this.isLive(state)) this.scheduleRetransmissions(state, false, queried);
  }

  private isLive(state: GroupState): boolean {
    return this.groups.get(state.group) === state;
  }

  private scheduleRetransmissions(state: GroupState, group: boolean, sources: readonly Ipv4[]): void {
    const left = this.ctx.settings.lastMemberQueryCount - 1;
    if (left <= 0) return;
    if (group) state.groupQueriesLeft = left;
    if (sources.length > 0) {
      state.sourceQueriesLeft ??= new Map();
      for (const s of sources) state.sourceQueriesLeft.set(s, left);
    }
    state.retransmitTimer.start(this.ctx.now() + this.ctx.settings.lastMemberQueryIntervalMs);
  }

  private retransmit(state: GroupState, deadline: number): void {
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

  private sendGroupQuery(state: GroupState, compatibility: 1 | 2 | 3): void {
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

  private sendSourceQueries(state: GroupState, sources: readonly Ipv4[]): void {
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
      v3: { suppressRouterSide, robustness: settings.robustness, queryIntervalSeconds: settings.queryIntervalMs / 1000, sources },
    };
  }

  // ---- timers ------------------------------------------------------------------------

  private groupTimerExpired(state: GroupState): void {
    state.groupTimer.stop();
    if (state.mode !== 'exclude') return;
    // 6.5: EXCLUDE -> INCLUDE with the requested sources; the exclude list is dropped.
    for (const record of [...state.sources.values()]) if (!record.timer.running) state.sources.delete(record.address);
    state.mode = 'include';
    for (const [host, filter] of [...state.hosts]) if (filter.mode === 'exclude') this.removeHost(state, host);
    this.afterExpiry(state);
  }

  private sourceTimerExpired(state: GroupState, source: Ipv4): void {
    const record = state.sources.get(source);
    if (record === undefined) return;
    record.timer.stop();
    // INCLUDE: the source is gone. EXCLUDE: it stays as an exclude-list entry (stopped timer).
    if (state.mode === 'include') {
      state.sources.delete(source);
      state.sourceQueriesLeft?.delete(source);
    }
    for (const [host, filter] of [...state.hosts]) {
      if (filter.mode === 'include' && filter.sources.delete(source) && filter.sources.size === 0) this.removeHost(state, host);
    }
    this.afterExpiry(state);
  }

  private afterExpiry(state: GroupState): void {
    if (state.mode === 'include' && state.sources.size === 0) this.deleteGroup(state);
    this.port.changed(state.group);
  }

  private deleteGroup(state: GroupState): void {
    state.stopTimers();
    for (const host of [...state.hosts.keys()]) this.removeHost(state, host);
    if (this.groups.delete(state.group)) this.port.membersChanged?.();
  }

  /** RFC 3376 6.6.1 for a query about `state`'s group (and `sources`): lower to `deadline`. */
  private lowerForQuery(rule: QueryTimerRow, state: GroupState, sources: readonly Ipv4[], deadline: number): void {
    if (rule.lowers === 'group timer') {
      // Only EXCLUDE mode has a group timer that counts (6.5).
      if (state.mode === 'exclude') this.lowerTimer(state.groupTimer, deadline);
      return;
    }
    for (const source of sources) {
      const record = state.sources.get(source);
      if (record !== undefined) this.lowerTimer(record.timer, deadline);
    }
  }

  private lowerTimer(timer: Timer, deadline: number): void {
    if (timer.running && timer.deadline > deadline) timer.start(deadline);
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

  private startSource(state: GroupState, source: Ipv4, deadline: number): void {
    let record = state.sources.get(source);
    if (record === undefined) {
      record = { address: source, timer: this.ctx.timers.create(() => this.onSourceTimer(state, source)) };
      state.sources.set(source, record);
    }
    record.timer.start(deadline);
  }

  private onSourceTimer(state: GroupState, source: Ipv4): void {
    if (this.groups.get(state.group) !== state) return;
    this.sourceTimerExpired(state, source);
  }

  private addExcluded(state: GroupState, source: Ipv4): void {
    if (state.sources.has(source)) return;
    state.sources.set(source, { address: source, timer: this.ctx.timers.create(() => this.onSourceTimer(state, source)) });
  }

  private deleteSource(state: GroupState, source: Ipv4): void {
    state.sources.get(source)?.timer.stop();
    state.sources.delete(source);
    state.sourceQueriesLeft?.delete(source);
  }

  // ---- per-host filters (quickleave) ----------------------------------------------------

  private setHost(state: GroupState, host: Ipv4, filter: HostFilter): void {
    if (filter.mode === 'include' && filter.sources.size === 0) {
      this.removeHost(state, host);
      return;
    }
    if (!state.hosts.has(host)) {
      this.groupsOfHost.set(host, this.hostGroupCount(host) + 1);
      this.port.membersChanged?.();
    }
    state.hosts.set(host, filter);
  }

  private removeHost(state: GroupState, host: Ipv4): void {
    if (!state.hosts.delete(host)) return;
    this.port.membersChanged?.();
    const left = this.hostGroupCount(host) - 1;
    if (left > 0) this.groupsOfHost.set(host, left);
    else this.groupsOfHost.delete(host);
  }

  private updateHost(state: GroupState, host: Ipv4, type: GroupRecordType, list: readonly Ipv4[]): void {
    const current = state.hosts.get(host) ?? { mode: 'include' as FilterMode, sources: new Set<Ipv4>() };
    switch (type) {
      case 'is-include':
      case 'to-include':
        this.setHost(state, host, { mode: 'include', sources: new Set(list) });
        return;
      case 'is-exclude':
      case 'to-exclude':
        this.setHost(state, host, { mode: 'exclude', sources: new Set(list) });
        return;
      case 'allow':
        for (const s of list) {
          if (current.mode === 'include') current.sources.add(s);
          else current.sources.delete(s);
        }
        break;
      case 'block':
        for (const s of list) {
          if (current.mode === 'include') current.sources.delete(s);
          else current.sources.add(s);
        }
        break;
    }
    this.setHost(state, host, current);
  }

  private anyHostWants(state: GroupState, source: Ipv4): boolean {
    for (const filter of state.hosts.values()) {
      if (filter.mode === 'include' ? filter.sources.has(source) : !filter.sources.has(source)) return true;
    }
    return false;
  }
}
