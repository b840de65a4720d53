// One group on one downstream and its timers: RFC 3376 6.2.1 state (filter mode, group
// timer, source records with their timers), 7.3.2 older-host present timers, and the
// 6.6.3 retransmission timer with its query counts. The state only schedules; what a
// timer's expiry means is decided by its owner (membership.ts), through GroupTimerHandlers.
//
// Source records: in INCLUDE mode every record has a running timer (the include list). In
// EXCLUDE mode a record with a running timer is in the RFC's "requested list" X (forwarded),
// a record whose timer stopped is in the "exclude list" Y (not forwarded).
import type { Ipv4 } from '../net/ipv4.ts';
import { Timer } from './timers.ts';
import type { TimerQueue } from './timers.ts';
import type { FilterMode } from './membership-table.ts';
import { CompactGroupHosts } from './host-tracking.ts';
import type { GroupHosts } from './host-tracking.ts';

export interface SourceRecord {
  readonly address: Ipv4;
  readonly timer: Timer;
}

/** What a group's timers call back in its owner. */
export interface GroupTimerHandlers {
  groupTimerFired(state: GroupState): void;
  sourceTimerFired(state: GroupState, source: Ipv4): void;
  retransmitDue(state: GroupState, deadline: number): void;
}

const nothing = (): void => undefined;

/** The group timer: it hands its state to the owner's handler itself, so a group needs no
 * closure and context of its own for it (~100 bytes per group, issue 14). */
class GroupTimer extends Timer {
  private readonly state: GroupState;

  constructor(queue: TimerQueue, state: GroupState) {
    super(queue, nothing);
    this.state = state;
  }

  override fire(): void {
    this.state.timerHandlers.groupTimerFired(this.state);
  }
}

/** The source records of every group that has none (a shared Map nobody writes to). */
const NO_SOURCES: ReadonlyMap<Ipv4, SourceRecord> = new Map();

/**
 * One group on one interface. Most groups are one TV's any-source join that only ever
 * needs the group timer; the older-host timers, the retransmission timer and the source
 * query counts are made on first use (per-group memory, issue 14).
 */
export class GroupState {
  mode: FilterMode = 'include';
  /** Made on the first source: an any-source join never has one (184 bytes per group). */
  private records: Map<Ipv4, SourceRecord> | undefined;
  /** Each reporting host's own filter (host-tracking.ts). */
  readonly hosts: GroupHosts = new CompactGroupHosts();
  groupQueriesLeft = 0;
  /** Sources with last-member query retransmissions left; undefined until the first. */
  sourceQueriesLeft: Map<Ipv4, number> | undefined;
  readonly group: Ipv4;
  readonly groupTimer: Timer;
  private readonly timers: TimerQueue;
  readonly timerHandlers: GroupTimerHandlers;
  private v1HostTimer: Timer | undefined;
  private v2HostTimer: Timer | undefined;
  private retransmission: Timer | undefined;

  constructor(group: Ipv4, timers: TimerQueue, handlers: GroupTimerHandlers) {
    this.group = group;
    this.timers = timers;
    this.timerHandlers = handlers;
    this.groupTimer = new GroupTimer(timers, this);
  }

  /** The source records, by source address; changed only through the methods below. */
  get sources(): ReadonlyMap<Ipv4, SourceRecord> {
    return this.records ?? NO_SOURCES;
  }

  /** RFC 3376 7.3.2: the oldest host version heard within the Older Host Present Interval. */
  get compatibility(): 1 | 2 | 3 {
    if (this.v1HostTimer?.running === true) return 1;
    if (this.v2HostTimer?.running === true) return 2;
    return 3;
  }

  /** An IGMPv1 or v2 host reported: compatibility mode until `deadline` (7.3.2). */
  olderHostPresent(version: 1 | 2, deadline: number): void {
    const timer =
      version === 1
        ? (this.v1HostTimer ??= this.timers.create(nothing))
        : (this.v2HostTimer ??= this.timers.create(nothing));
    timer.start(deadline);
  }

  get retransmitTimer(): Timer {
    return (this.retransmission ??= this.timers.create((deadline) => this.timerHandlers.retransmitDue(this, deadline)));
  }

  /** The source's timer runs until `deadline` (a new record when there was none). */
  startSource(source: Ipv4, deadline: number): void {
    const records = (this.records ??= new Map());
    let record = records.get(source);
    if (record === undefined) {
      record = this.newRecord(source);
      records.set(source, record);
    }
    record.timer.start(deadline);
  }

  /** EXCLUDE mode: the source joins the exclude list Y (a record with a stopped timer). */
  addExcluded(source: Ipv4): void {
    const records = (this.records ??= new Map());
    if (records.has(source)) return;
    records.set(source, this.newRecord(source));
  }

  /** The source's record goes, with its timer and its query retransmissions. */
  deleteSource(source: Ipv4): void {
    const records = this.records;
    if (records === undefined) return;
    records.get(source)?.timer.stop();
    records.delete(source);
    this.sourceQueriesLeft?.delete(source);
    if (records.size === 0) this.records = undefined;
  }

  stopTimers(): void {
    this.groupTimer.stop();
    this.v1HostTimer?.stop();
    this.v2HostTimer?.stop();
    this.retransmission?.stop();
    for (const record of this.sources.values()) record.timer.stop();
  }

  private newRecord(source: Ipv4): SourceRecord {
    return { address: source, timer: this.timers.create(() => this.timerHandlers.sourceTimerFired(this, source)) };
  }
}

/** Lowers a running timer to `deadline`, never raises it (RFC 3376 6.6.1, 6.6.3). */
export function lowerTimer(timer: Timer, deadline: number): void {
  if (timer.running && timer.deadline > deadline) timer.start(deadline);
}
