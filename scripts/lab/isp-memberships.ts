// What the provider's router knows about its link: which groups have listeners. Pure:
// messages and the time come in, membership changes come out; the isp program does the
// I/O. Semantics follow RFC 2236/3376 router behaviour in the simplified form a test
// provider needs (no per-source state: a v3 INCLUDE with sources counts as a listener).
import type { IgmpMessage } from '../../addon/daemon/igmp/index.ts';

export type ReportKind = 'join' | 'leave' | 'current';

/** One group-level statement read from a report; v3 reports give one per record. */
export interface GroupStatement {
  readonly group: number;
  readonly kind: ReportKind;
  readonly version: 1 | 2 | 3;
  /** The v3 record type, for the event log. */
  readonly recordType?: string;
}

/** Reads the group statements of a report; queries give none. */
export function groupStatements(message: IgmpMessage): GroupStatement[] {
  switch (message.type) {
    case 'query':
      return [];
    case 'v1-report':
      return [{ group: message.group, kind: 'join', version: 1 }];
    case 'v2-report':
      return [{ group: message.group, kind: 'join', version: 2 }];
    case 'v2-leave':
      return [{ group: message.group, kind: 'leave', version: 2 }];
    case 'v3-report':
      return message.records.flatMap((record): GroupStatement[] => {
        const base = { group: record.group, version: 3 as const, recordType: record.recordType };
        switch (record.recordType) {
          case 'is-exclude':
            return [{ ...base, kind: 'current' }];
          case 'is-include':
            return [{ ...base, kind: record.sources.length > 0 ? 'current' : 'leave' }];
          case 'to-exclude':
            return [{ ...base, kind: 'join' }];
          case 'to-include':
            return [{ ...base, kind: record.sources.length > 0 ? 'join' : 'leave' }];
          case 'allow':
            return record.sources.length > 0 ? [{ ...base, kind: 'join' }] : [];
          case 'block':
            return [];
        }
      });
  }
}

export interface MembershipTimers {
  /** Group membership interval: robustness x query interval + response time. */
  readonly membershipMs: number;
  /** Last member query interval x count: how long a group lives after a leave. */
  readonly lastMemberMs: number;
}

export type MembershipChange = { readonly group: number; readonly change: 'started' | 'stopped' };

/** Groups with listeners and when each expires. */
export class LinkMemberships {
  private readonly expiry = new Map<number, number>();
  /** Groups whose last-member queries are running: a repeated leave does not restart them. */
  private readonly leaving = new Set<number>();
  private timers: MembershipTimers;

  constructor(timers: MembershipTimers) {
    this.timers = timers;
  }

  setTimers(timers: MembershipTimers): void {
    this.timers = timers;
  }

  get groups(): number[] {
    return [...this.expiry.keys()].sort((a, b) => a - b);
  }

  has(group: number): boolean {
    return this.expiry.has(group);
  }

  /**
   * Applies one statement at time `now`. A join/current (re)starts the membership timer;
   * the first leave of a known group shortens it to the last-member time and returns
   * 'leave-pending' (the caller sends the group-specific queries); repeats of that leave
   * (hosts send it robustness times) change nothing.
   */
  apply(statement: GroupStatement, now: number): MembershipChange | 'leave-pending' | undefined {
    const known = this.expiry.has(statement.group);
    if (statement.kind === 'leave') {
      if (!known || this.leaving.has(statement.group)) return undefined;
      this.leaving.add(statement.group);
      this.expiry.set(
        statement.group,
        Math.min(this.expiry.get(statement.group) as number, now + this.timers.lastMemberMs),
      );
      return 'leave-pending';
    }
    this.leaving.delete(statement.group);
    this.expiry.set(statement.group, now + this.timers.membershipMs);
    return known ? undefined : { group: statement.group, change: 'started' };
  }

  /** Forgets a group at once (the "immediate leave" mode of some provider routers). */
  drop(group: number): MembershipChange | undefined {
    this.leaving.delete(group);
    return this.expiry.delete(group) ? { group, change: 'stopped' } : undefined;
  }

  /** Removes expired groups. */
  expire(now: number): MembershipChange[] {
    const stopped: MembershipChange[] = [];
    for (const [group, deadline] of this.expiry) {
      if (deadline <= now) {
        this.expiry.delete(group);
        this.leaving.delete(group);
        stopped.push({ group, change: 'stopped' });
      }
    }
    return stopped;
  }

  /** The earliest expiry, to schedule the next check. */
  nextDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const deadline of this.expiry.values()) if (earliest === undefined || deadline < earliest) earliest = deadline;
    return earliest;
  }
}
