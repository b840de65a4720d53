// Host side of one upstream interface: RFC 3376 section 5 (state-change reports 5.1,
// query responses 5.2) and 7.2.1 (host compatibility with older queriers), as RFC 4605
// asks of a proxy. The proxy speaks here for all of its downstream listeners; the state
// it reports per group is the merge computed by IgmpProxyCore.
//
// Differences from a plain host, on purpose: the first state-change report goes out at
// once (no random delay; the viewer is waiting), retransmissions follow exactly one
// Unsolicited Report Interval apart; reports of other hosts are not used to suppress ours.
// State-change reports are paced by a token bucket (report-pacing.ts, rates in settings.ts):
// a change without a token waits, merged per group with later changes (the latest wanted
// state wins), and goes out with the next token. Nothing waiting is lost; a group joined
// and left again while waiting is never reported at all.
import { ALL_ROUTERS, IGMPV3_ROUTERS, formatIpv4, isSourceSpecificMulticast } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecord, GroupRecordType, IgmpMessage, IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import type { Subscription } from './membership.ts';
import type { Timer } from './timers.ts';
import { sameSet, sorted } from './sources.ts';
import { TokenBucket } from './report-pacing.ts';
import { REPORT_BURST, REPORT_REFILL_MS } from './settings.ts';

export interface UpstreamPort {
  readonly name: string;
  send(message: IgmpMessage, destination: Ipv4): void;
}

/** The desired state of one group on this upstream; undefined = not a member. */
export interface DesiredState {
  readonly group: Ipv4;
  readonly state: Subscription | undefined;
}

interface PendingChange {
  /** Retransmissions left of a TO_IN/TO_EX (v3) or of the join report (v1/v2). */
  modeLeft: number;
  /** Retransmissions left per source of ALLOW/BLOCK records (v3). */
  readonly sourcesLeft: Map<Ipv4, number>;
}

interface GroupResponse {
  readonly timer: Timer;
  /** undefined: group-specific (report the whole state); a set: these sources only (v3). */
  sources: Set<Ipv4> | undefined;
}

export interface UpstreamSnapshot {
  readonly querierVersion: 1 | 2 | 3;
  readonly olderQuerierUntil: number | null;
  readonly joined: readonly { readonly group: string; readonly mode: string; readonly sources: readonly string[] }[];
  readonly pendingRetransmissions: number;
  readonly generalResponseAt: number | null;
  /** When a query was last heard on the link (any version); null: none yet. */
  readonly lastQueryHeardAt: number | null;
  /** The querier's query interval: its QQIC (IGMPv3), else ours. */
  readonly querierQueryIntervalMs: number;
  /** Who sent the last query heard, and in which IGMP version; null: none yet. */
  readonly lastQuerier: string | null;
  readonly lastQueryVersion: 1 | 2 | 3 | null;
  /** Since when we listen on this upstream (monotonic ms): "no query yet" counts from here. */
  readonly listeningSince: number;
  /** IGMP reports and leaves sent on this upstream since then. */
  readonly reportsSent: number;
  /** State-change reports sent since start (retransmissions and query answers not included). */
  readonly stateChangeReports: number;
  /** Group changes that had to wait for the report pacing since start. */
  readonly pacedChanges: number;
  /** Groups whose change waits for the pacing now. */
  readonly waitingChanges: number;
}

const EMPTY: Subscription = { mode: 'include', sources: new Set() };
/** EXCLUDE({}), what nearly every group on an IPTV upstream is: one object for all of them
 * instead of a subscription and an empty Set per group (~190 bytes each, issue 14). */
const ALL_SOURCES: Subscription = { mode: 'exclude', sources: new Set() };

export class UpstreamHost {
  /** What we have told the upstream router, per group; absent = INCLUDE({}). */
  private readonly reported = new Map<Ipv4, Subscription>();
  private readonly pending = new Map<Ipv4, PendingChange>();
  /** Changes waiting for a token, per group the latest wanted state (undefined = leave). */
  private readonly waiting = new Map<Ipv4, Subscription | undefined>();
  private readonly pacing: TokenBucket;
  private readonly pacingTimer: Timer;
  private stateChangeReports = 0;
  private pacedChanges = 0;
  private readonly responses = new Map<Ipv4, GroupResponse>();
  private robustness: number;
  private lastQueryAt: number | undefined;
  private querierIntervalMs: number | undefined;
  private lastQuerier: Ipv4 | undefined;
  private lastQueryVersion: 1 | 2 | 3 | undefined;
  private readonly listeningSince: number;
  private reportsSent = 0;
  private readonly ctx: CoreContext;
  private readonly port: UpstreamPort;
  private readonly retransmitTimer: Timer;
  private readonly generalResponseTimer: Timer;
  private readonly v1QuerierTimer: Timer;
  private readonly v2QuerierTimer: Timer;

  constructor(ctx: CoreContext, port: UpstreamPort) {
    this.ctx = ctx;
    // Every report and leave goes through here: counted for the status document.
    this.port = {
      name: port.name,
      send: (message, destination) => {
        this.reportsSent++;
        port.send(message, destination);
      },
    };
    this.listeningSince = ctx.now();
    this.robustness = ctx.settings.robustness;
    this.retransmitTimer = ctx.timers.create((deadline) => this.retransmit(deadline));
    this.generalResponseTimer = ctx.timers.create(() => this.answerGeneralQuery());
    this.v1QuerierTimer = ctx.timers.create(() => this.compatibilityExpired(1));
    this.v2QuerierTimer = ctx.timers.create(() => this.compatibilityExpired(2));
    this.pacing = new TokenBucket(REPORT_BURST, REPORT_REFILL_MS, ctx.now());
    this.pacingTimer = ctx.timers.create(() => this.sendWaiting());
  }

  /** 7.2.1: the version we speak, set by the oldest querier heard recently. */
  get version(): 1 | 2 | 3 {
    if (this.v1QuerierTimer.running) return 1;
    if (this.v2QuerierTimer.running) return 2;
    return 3;
  }

  joinedGroups(): Ipv4[] {
    return sorted(this.reported.keys());
  }

  // ---- state changes (5.1) --------------------------------------------------------------

  /** Moves the reported state of each group to the desired one: at once while the pacing
   * has a token, else with the next token (merged with whatever else waits). */
  apply(changes: Iterable<DesiredState>): void {
    const added: Ipv4[] = [];
    for (const { group, state } of changes) {
      const wanted = state === undefined || isEmpty(state) ? undefined : state;
      if (!this.waiting.has(group)) {
        if (this.isReported(group, wanted)) continue;
        added.push(group);
      }
      this.waiting.set(group, wanted);
    }
    this.sendWaiting();
    for (const group of added) if (this.waiting.has(group)) this.pacedChanges++;
  }

  private isReported(group: Ipv4, wanted: Subscription | undefined): boolean {
    const old = this.reported.get(group) ?? EMPTY;
    const next = wanted ?? EMPTY;
    return old.mode === next.mode && sameSet(old.sources, next.sources);
  }

  /** Would this change put a message on the wire? In IGMPv1/v2 only a join or a leave does,
   * and nothing for an SSM group (see olderVersionChange); such changes need no token. */
  private sendsMessage(version: 1 | 2 | 3, group: Ipv4, wanted: Subscription | undefined): boolean {
    if (version === 3) return true;
    const wasMember = this.reported.has(group);
    return wasMember !== (wanted !== undefined) && !isSourceSpecificMulticast(group);
  }

  /** Sends what waits, as far as the tokens go: IGMPv3 one report for all, v1/v2 one per group. */
  private sendWaiting(): void {
    const now = this.ctx.now();
    const version = this.version;
    const free: DesiredState[] = [];
    for (const [group, wanted] of this.waiting) {
      if (this.isReported(group, wanted)) this.waiting.delete(group);
      else if (!this.sendsMessage(version, group, wanted)) {
        free.push({ group, state: wanted });
        this.waiting.delete(group);
      }
    }
    if (free.length > 0) this.applyNow(free);
    while (this.waiting.size > 0 && this.pacing.take(now)) {
      const batch: DesiredState[] = [];
      for (const [group, state] of this.waiting) {
        batch.push({ group, state });
        this.waiting.delete(group);
        if (version !== 3) break;
      }
      this.stateChangeReports++;
      this.applyNow(batch);
    }
    if (this.waiting.size === 0) this.pacingTimer.stop();
    else this.pacingTimer.start(this.pacing.nextTokenAt(now));
  }

  /** Reports the difference at once. */
  private applyNow(changes: Iterable<DesiredState>): void {
    const version = this.version;
    const records: GroupRecord[] = [];
    for (const { group, state } of changes) {
      const wanted = state === undefined || isEmpty(state) ? undefined : state;
      const old = this.reported.get(group) ?? EMPTY;
      const next = wanted ?? EMPTY;
      if (old.mode === next.mode && sameSet(old.sources, next.sources)) continue;
      if (wanted === undefined) this.reported.delete(group);
      else this.reported.set(group, wanted.mode === 'exclude' && wanted.sources.size === 0 ? ALL_SOURCES : wanted);
      if (version === 3) {
        records.push(...this.v3Change(group, old, next));
      } else {
        this.olderVersionChange(version, group, isEmpty(old), wanted === undefined);
      }
    }
    if (records.length > 0) this.port.send({ type: 'v3-report', records }, IGMPV3_ROUTERS);
    if (this.pending.size > 0 && !this.retransmitTimer.running) {
      this.retransmitTimer.start(this.ctx.now() + this.unsolicitedReportInterval());
    }
  }

  /** Leaves every group now (shutdown or interface removed from the config): no retransmissions. */
  leaveAll(): void {
    this.waiting.clear();
    this.pacingTimer.stop();
    this.applyNow(this.joinedGroups().map((group) => ({ group, state: undefined })));
    this.reset();
  }

  /** Interface went down: forget what we reported; the querier version is kept, so a quick
   * PPPoE reconnect still talks IGMPv2 to an IGMPv2-only ISP. */
  reset(): void {
    this.reported.clear();
    this.waiting.clear();
    this.pacingTimer.stop();
    this.cancelPending();
  }

  /** Forget everything, timers included (interface removed from the config). */
  destroy(): void {
    this.reset();
    this.v1QuerierTimer.stop();
    this.v2QuerierTimer.stop();
  }

  private v3Change(group: Ipv4, old: Subscription, next: Subscription): GroupRecord[] {
    const retransmissions = this.robustness - 1;
    let pending = this.pending.get(group);
    if (pending === undefined) {
      pending = { modeLeft: 0, sourcesLeft: new Map() };
      this.pending.set(group, pending);
    }
    if (old.mode !== next.mode || pending.modeLeft > 0) {
      // A filter-mode change (or a change while one is still being retransmitted):
      // TO_IN/TO_EX carrying the whole current list supersedes source deltas.
      pending.modeLeft = retransmissions;
      pending.sourcesLeft.clear();
      if (pending.modeLeft <= 0) this.pending.delete(group);
      return [modeRecord(group, next)];
    }
    const added = [...next.sources].filter((s) => !old.sources.has(s));
    const removed = [...old.sources].filter((s) => !next.sources.has(s));
    for (const s of [...added, ...removed]) pending.sourcesLeft.set(s, retransmissions);
    if (retransmissions <= 0) this.pending.delete(group);
    // In EXCLUDE mode a source added to the list is blocked, a removed one allowed.
    const [allow, block] = next.mode === 'include' ? [added, removed] : [removed, added];
    const records: GroupRecord[] = [];
    if (allow.length > 0) records.push({ recordType: 'allow', group, sources: sorted(allow) });
    if (block.length > 0) records.push({ recordType: 'block', group, sources: sorted(block) });
    return records;
  }

  private olderVersionChange(version: 1 | 2, group: Ipv4, wasEmpty: boolean, nowEmpty: boolean): void {
    if (wasEmpty === nowEmpty) return; // v1/v2 cannot express source changes
    if (isSourceSpecificMulticast(group)) {
      // RFC 4604 2.2.1: a v1/v2 report for an SSM group would ask for every source; an
      // SSM-aware host does not send one (nor, having sent no report, a leave).
      if (!nowEmpty) {
        this.ctx.log(
          'warning',
          `${this.port.name}: upstream querier speaks IGMPv${version}, which cannot name sources; ` +
            `${formatIpv4(group)} (source-specific range 232.0.0.0/8) is not reported there`,
        );
      }
      return;
    }
    if (!nowEmpty) {
      this.sendOlderReport(version, group);
      const retransmissions = this.robustness - 1;
      if (retransmissions > 0) this.pending.set(group, { modeLeft: retransmissions, sourcesLeft: new Map() });
      return;
    }
    this.pending.delete(group);
    this.cancelResponse(group);
    // IGMPv1 has no leave; the upstream router times the group out.
    if (version === 2) this.port.send({ type: 'v2-leave', group }, ALL_ROUTERS);
  }

  private retransmit(deadline: number): void {
    const version = this.version;
    const records: GroupRecord[] = [];
    for (const [group, pending] of [...this.pending]) {
      const current = this.reported.get(group) ?? EMPTY;
      if (version !== 3) {
        if (pending.modeLeft > 0 && this.reported.has(group)) this.sendOlderReport(version, group);
        pending.modeLeft--;
      } else if (pending.modeLeft > 0) {
        records.push(modeRecord(group, current));
        pending.modeLeft--;
      } else {
        const allow: Ipv4[] = [];
        const block: Ipv4[] = [];
        for (const [s, left] of [...pending.sourcesLeft]) {
          const forwarded = current.mode === 'include' ? current.sources.has(s) : !current.sources.has(s);
          (forwarded ? allow : block).push(s);
          if (left <= 1) pending.sourcesLeft.delete(s);
          else pending.sourcesLeft.set(s, left - 1);
        }
        if (allow.length > 0) records.push({ recordType: 'allow', group, sources: sorted(allow) });
        if (block.length > 0) records.push({ recordType: 'block', group, sources: sorted(block) });
      }
      if (pending.modeLeft <= 0 && pending.sourcesLeft.size === 0) this.pending.delete(group);
    }
    if (records.length > 0) this.port.send({ type: 'v3-report', records }, IGMPV3_ROUTERS);
    if (this.pending.size > 0) this.retransmitTimer.start(deadline + this.unsolicitedReportInterval());
  }

  private unsolicitedReportInterval(): number {
    const settings = this.ctx.settings;
    return this.version === 3 ? settings.unsolicitedReportIntervalV3Ms : settings.unsolicitedReportIntervalV2Ms;
  }

  /** A v1/v2 report; none for an SSM group (see olderVersionChange). */
  private sendOlderReport(version: 1 | 2, group: Ipv4): void {
    if (isSourceSpecificMulticast(group)) return;
    this.port.send(version === 1 ? { type: 'v1-report', group } : { type: 'v2-report', group }, group);
  }

  // ---- queries (5.2, 7.2.1) -----------------------------------------------------------------

  queryHeard(source: Ipv4, query: IgmpQuery): void {
    const before = this.version;
    this.lastQueryAt = this.ctx.now();
    this.lastQuerier = source;
    this.lastQueryVersion = query.version;
    // An IGMPv3 query says how often the querier asks; v1/v2 ones do not (back to ours).
    this.querierIntervalMs =
      query.v3 !== undefined && query.v3.queryIntervalSeconds > 0 ? query.v3.queryIntervalSeconds * 1000 : undefined;
    const timeout = this.ctx.now() + this.ctx.settings.olderVersionQuerierPresentTimeoutMs;
    if (query.version === 1) this.v1QuerierTimer.start(timeout);
    if (query.version === 2) this.v2QuerierTimer.start(timeout);
    if (query.v3 !== undefined && query.v3.robustness > 0) this.robustness = query.v3.robustness;
    const version = this.version;
    if (version !== before) {
      // 7.2.1: switching to an older version cancels pending reports and responses.
      this.ctx.log(
        'info',
        `${this.port.name}: upstream querier ${formatIpv4(source)} speaks IGMPv${query.version}; reporting in IGMPv${version}`,
      );
      this.cancelPending();
    }
    // Each answer at its own random time in [0, max resp).
    const randomTime = (): number => this.ctx.now() + Math.floor(this.ctx.random() * Math.max(1, query.maxResponseMs));
    if (version < 3) {
      if (query.group === 0)
        for (const group of this.joinedGroups()) this.scheduleResponse(group, randomTime(), undefined);
      else if (this.reported.has(query.group)) this.scheduleResponse(query.group, randomTime(), undefined);
      return;
    }
    const at = randomTime();
    if (this.generalResponseTimer.running && this.generalResponseTimer.deadline <= at) return;
    if (query.group === 0) {
      this.generalResponseTimer.start(at);
      return;
    }
    if (!this.reported.has(query.group)) return;
    const sources = query.v3?.sources ?? [];
    this.scheduleResponse(query.group, at, sources.length === 0 ? undefined : new Set(sources));
  }

  private scheduleResponse(group: Ipv4, at: number, sources: Set<Ipv4> | undefined): void {
    const existing = this.responses.get(group);
    if (existing === undefined) {
      const timer = this.ctx.timers.create(() => this.answerGroupQuery(group));
      this.responses.set(group, { timer, sources });
      timer.start(at);
      return;
    }
    // 5.2 merging: a group query absorbs a source query; two source queries add up.
    if (sources === undefined || existing.sources === undefined) existing.sources = undefined;
    else for (const s of sources) existing.sources.add(s);
    if (!existing.timer.running || at < existing.timer.deadline) existing.timer.start(at);
  }

  private answerGeneralQuery(): void {
    if (this.version < 3) return;
    const records: GroupRecord[] = [];
    for (const group of this.joinedGroups()) records.push(currentStateRecord(group, this.reported.get(group)!));
    if (records.length > 0) this.port.send({ type: 'v3-report', records }, IGMPV3_ROUTERS);
  }

  private answerGroupQuery(group: Ipv4): void {
    const response = this.responses.get(group);
    this.responses.delete(group);
    const state = this.reported.get(group);
    if (response === undefined || state === undefined) return;
    const version = this.version;
    if (version !== 3) {
      this.sendOlderReport(version, group);
      return;
    }
    let record: GroupRecord;
    if (response.sources === undefined) {
      record = currentStateRecord(group, state);
    } else {
      const asked = [...response.sources];
      const wanted =
        state.mode === 'include'
          ? asked.filter((s) => state.sources.has(s))
          : asked.filter((s) => !state.sources.has(s));
      if (wanted.length === 0) return;
      record = { recordType: 'is-include', group, sources: sorted(wanted) };
    }
    this.port.send({ type: 'v3-report', records: [record] }, IGMPV3_ROUTERS);
  }

  private cancelResponse(group: Ipv4): void {
    this.responses.get(group)?.timer.stop();
    this.responses.delete(group);
  }

  private cancelPending(): void {
    this.pending.clear();
    this.retransmitTimer.stop();
    this.generalResponseTimer.stop();
    for (const response of this.responses.values()) response.timer.stop();
    this.responses.clear();
  }

  private compatibilityExpired(version: 1 | 2): void {
    this.ctx.log(
      'info',
      `${this.port.name}: no IGMPv${version} querier heard for a while; reporting in IGMPv${this.version}`,
    );
  }

  /** When a query was last heard upstream and how often the querier asks (the stall alarm's cause). */
  get querierActivity(): { readonly lastQueryHeardAt: number | undefined; readonly queryIntervalMs: number } {
    return {
      lastQueryHeardAt: this.lastQueryAt,
      queryIntervalMs: this.querierIntervalMs ?? this.ctx.settings.queryIntervalMs,
    };
  }

  snapshot(): UpstreamSnapshot {
    const older = this.v1QuerierTimer.running
      ? this.v1QuerierTimer
      : this.v2QuerierTimer.running
        ? this.v2QuerierTimer
        : undefined;
    return {
      querierVersion: this.version,
      olderQuerierUntil: older === undefined ? null : older.deadline,
      joined: this.joinedGroups().map((group) => {
        const state = this.reported.get(group)!;
        return { group: formatIpv4(group), mode: state.mode, sources: sorted(state.sources).map(formatIpv4) };
      }),
      pendingRetransmissions: this.pending.size,
      generalResponseAt: this.generalResponseTimer.running ? this.generalResponseTimer.deadline : null,
      lastQueryHeardAt: this.lastQueryAt ?? null,
      querierQueryIntervalMs: this.querierActivity.queryIntervalMs,
      lastQuerier: this.lastQuerier === undefined ? null : formatIpv4(this.lastQuerier),
      lastQueryVersion: this.lastQueryVersion ?? null,
      listeningSince: this.listeningSince,
      reportsSent: this.reportsSent,
      stateChangeReports: this.stateChangeReports,
      pacedChanges: this.pacedChanges,
      waitingChanges: this.waiting.size,
    };
  }
}

function isEmpty(state: Subscription): boolean {
  return state.mode === 'include' && state.sources.size === 0;
}

function modeRecord(group: Ipv4, state: Subscription): GroupRecord {
  const recordType: GroupRecordType = state.mode === 'include' ? 'to-include' : 'to-exclude';
  return { recordType, group, sources: sorted(state.sources) };
}

function currentStateRecord(group: Ipv4, state: Subscription): GroupRecord {
  const recordType: GroupRecordType = state.mode === 'include' ? 'is-include' : 'is-exclude';
  return { recordType, group, sources: sorted(state.sources) };
}
