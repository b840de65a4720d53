// One group on one downstream and its timers: RFC 3376 6.2.1 state (filter mode, group
// timer, source records with their timers), 7.3.2 older-host present timers, and the
// 6.6.3 retransmission timer with its query counts. The state only schedules; what a
// timer's expiry means is decided by its owner (membership.ts), through GroupTimerHandlers.
//
// Source records: in INCLUDE mode every record has a running timer (the include list). In
// EXCLUDE mode a record with a running timer is in the RFC's "requested list" X (forwarded),
// a record whose timer stopped is in the "exclude list" Y (not forwarded).
import type { Ipv4 } from '../net/ipv4.ts';
import type { Timer, TimerQueue } from './timers.ts';
import type { FilterMode } from './membership-table.ts';
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

/**
 * One group on one interface. Most groups are one TV's any-source join that only ever
 * needs the group timer; the older-host timers, the retransmission timer and the source
 * query counts are made on first use (per-group memory, issue 14).
 */
export class GroupState {
  mode: FilterMode = 'include';
  readonly sources = new Map<Ipv4, SourceRecord>();
  /** Each reporting host's own filter (host-tracking.ts). */
  readonly hosts: GroupHosts = new Map();
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
    const timer =
      version === 1
        ? (this.v1HostTimer ??= this.timers.create(nothing))
        : (this.v2HostTimer ??= this.timers.create(nothing));
    timer.start(deadline);
  }

  get retransmitTimer(): Timer {
    return (this.retransmission ??= this.timers.create((deadline) => this.handlers.retransmitDue(this, deadline)));
  }

  /** The source's timer runs until `deadline` (a new record when there was none). */
  startSource(source: Ipv4, deadline: number): void {
    let record = this.sources.get(source);
    if (record === undefined) {
      record = this.newRecord(source);
      this.sources.set(source, record);
    }
    record.timer.start(deadline);
  }

  /** EXCLUDE mode: the source joins the exclude list Y (a record with a stopped timer). */
  addExcluded(source: Ipv4): void {
    if (this.sources.has(source)) return;
    this.sources.set(source, this.newRecord(source));
  }

  deleteSource(source: Ipv4): void {
    this.sources.get(source)?.timer.stop();
    this.sources.delete(source);
    this.sourceQueriesLeft?.delete(source);
  }

  stopTimers(): void {
    this.groupTimer.stop();
    this.v1HostTimer?.stop();
    this.v2HostTimer?.stop();
    this.retransmission?.stop();
    for (const record of this.sources.values()) record.timer.stop();
  }

  private newRecord(source: Ipv4): SourceRecord {
    return { address: source, timer: this.timers.create(() => this.handlers.sourceTimerFired(this, source)) };
  }
}

/** Lowers a running timer to `deadline`, never raises it (RFC 3376 6.6.1, 6.6.3). */
export function lowerTimer(timer: Timer, deadline: number): void {
  if (timer.running && timer.deadline > deadline) timer.start(deadline);
}
