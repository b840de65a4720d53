// Protocol timer values of RFC 3376 section 8 (router side) and section 8/7.2.1 (host
// side), derived from the three tunables exactly as the RFC defines them. All in ms.
// One object, so tests and the state dump can show each value.

export interface ProtocolSettings {
  /** RFC 3376 8.1: how many losses the protocol tolerates; also the retransmission count. */
  readonly robustness: number;
  /** 8.2: general query period. */
  readonly queryIntervalMs: number;
  /** 8.3: max response time put into general queries. */
  readonly queryResponseIntervalMs: number;
  /** 8.4: RV * QI + QRI; a group (or source) with no report for this long is gone. */
  readonly groupMembershipIntervalMs: number;
  /** 8.5: RV * QI + QRI / 2; how long a lower-addressed querier silences us. */
  readonly otherQuerierPresentIntervalMs: number;
  /** 8.6: QI / 4 (31.25 s, kept exact: the clock is in ms). */
  readonly startupQueryIntervalMs: number;
  /** 8.7: RV general queries at start-up. */
  readonly startupQueryCount: number;
  /** 8.8: max response time and spacing of group(-and-source)-specific queries. */
  readonly lastMemberQueryIntervalMs: number;
  /** 8.9: RV group-specific queries per leave. */
  readonly lastMemberQueryCount: number;
  /** 8.10: LMQI * LMQC; how long a group survives a leave nobody contradicts. */
  readonly lastMemberQueryTimeMs: number;
  /** 8.13: RV * QI + QRI; router side, a v1/v2 host keeps its group in compatibility mode. */
  readonly olderHostPresentIntervalMs: number;
  /** 8.11: host side, spacing of state-change report retransmissions (IGMPv3). */
  readonly unsolicitedReportIntervalV3Ms: number;
  /** RFC 2236 8.10: the same for IGMPv1/v2 reports. */
  readonly unsolicitedReportIntervalV2Ms: number;
  /** 8.12: RV * QI + QRI; host side, how long an older-version querier keeps us in its version. */
  readonly olderVersionQuerierPresentTimeoutMs: number;
}

export function deriveSettings(
  robustness: number,
  queryIntervalMs: number,
  queryResponseIntervalMs: number,
  lastMemberQueryIntervalMs: number,
): ProtocolSettings {
  const groupMembershipIntervalMs = robustness * queryIntervalMs + queryResponseIntervalMs;
  return {
    robustness,
    queryIntervalMs,
    queryResponseIntervalMs,
    groupMembershipIntervalMs,
    otherQuerierPresentIntervalMs: robustness * queryIntervalMs + queryResponseIntervalMs / 2,
    startupQueryIntervalMs: queryIntervalMs / 4,
    startupQueryCount: robustness,
    lastMemberQueryIntervalMs,
    lastMemberQueryCount: robustness,
    lastMemberQueryTimeMs: lastMemberQueryIntervalMs * robustness,
    olderHostPresentIntervalMs: groupMembershipIntervalMs,
    unsolicitedReportIntervalV3Ms: 1_000,
    unsolicitedReportIntervalV2Ms: 10_000,
    olderVersionQuerierPresentTimeoutMs: groupMembershipIntervalMs,
  };
}

/** The RFC defaults: RV 2, QI 125 s, QRI 10 s, LMQI 1 s. */
export const DEFAULT_SETTINGS: ProtocolSettings = deriveSettings(2, 125_000, 10_000, 1_000);

/**
 * Version of the general queries we send as querier while no older querier is heard.
 * IGMPv3 queries are understood by v1/v2 hosts (RFC 3376 7.1) and are what a v3 router
 * sends; C igmpproxy sends v2 queries, which hides v3 hosts' source filters from us.
 */
export const GENERAL_QUERY_VERSION = 3;

/** How long a (S,G) that the kernel queued without a route is remembered (the kernel's
 * unresolved-entry lifetime), so a join within that time installs the route at once. */
export const UNRESOLVED_MEMORY_MS = 10_000;

/** Minimum spacing of a repeated log line with the same cause (log-throttle.ts): the "add an
 * altnet" warning per upstream and source /24, ignored receivers per host. */
export const REPEATED_LOG_INTERVAL_MS = 60_000;

/** Upcalls refused for their source, remembered per upstream (routes.ts). */
export const MAX_REFUSED_UPCALLS = 1024;

/**
 * Pacing of state-change reports toward each upstream (report-pacing.ts): a burst of
 * REPORT_BURST reports goes out at once, then one per REPORT_REFILL_MS (20 per second).
 * The rate must never slow a person: a channel change is two state-change reports (IGMPv3:
 * the old group's TO_IN{} and the new one's TO_EX{}, as the TV's kernel sends them; IGMPv2:
 * a leave and a report), so a viewer holding channel-up (about 3 zaps/s) makes 6 reports/s.
 * Three TVs doing that at once stay below the rate for good, four for 8 s (the burst covers
 * their excess of 4/s); a flood from the LAN (10,000 reports/s) still reaches the provider
 * as 20/s. RFC 3376 8.11's retransmissions (one Unsolicited Report Interval, 1 s, apart)
 * are timer-paced and not counted. What a burst of joins makes wait is merged per group and
 * goes out in the next report. (8 at once and 4/s, the first values, made every join of a
 * quick zapping sequence wait up to 250 ms.)
 */
export const REPORT_BURST = 32;
export const REPORT_REFILL_MS = 50;

/**
 * IGMP datagrams each host (source address) of a downstream may hand in (host-report-rate.ts):
 * HOST_REPORT_BURST at once, then one per HOST_REPORT_REFILL_MS (100 a second); the rest is
 * dropped before parsing and counted. An RFC host never comes near it: per state change it
 * sends Robustness Variable reports (2 by default, RFC 3376 8.1), a TV zapping twice a second
 * about 8 a second; per query at most one report per group (IGMPv1/v2, RFC 2236 3), spread
 * over the Max Response Time (10 s), or its whole state in a few datagrams (IGMPv3): even a
 * host at maxgroupsperhost's default 512 answering in one instant fits in the burst. A
 * flooding host gets 100 reports a second looked at, and the other hosts keep the socket.
 */
export const HOST_REPORT_BURST = 600;
export const HOST_REPORT_REFILL_MS = 10;
