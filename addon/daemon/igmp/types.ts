// IGMP messages as the daemon sees them, independent of wire layout (codec.ts does that).
// Times are in milliseconds; addresses are Ipv4 numbers.
import type { Ipv4 } from '../net/ipv4.ts';

/** IGMP type octets (RFC 1112, 2236, 3376). */
export const IGMP_MEMBERSHIP_QUERY = 0x11;
export const IGMP_V1_MEMBERSHIP_REPORT = 0x12;
export const IGMP_V2_MEMBERSHIP_REPORT = 0x16;
export const IGMP_V2_LEAVE_GROUP = 0x17;
export const IGMP_V3_MEMBERSHIP_REPORT = 0x22;

export interface IgmpQuery {
  readonly type: 'query';
  /** Decided by RFC 3376 section 7.1: length 8 and max resp 0 -> 1, length 8 -> 2, length >= 12 -> 3. */
  readonly version: 1 | 2 | 3;
  /** Max response time in ms (v1 queries: 10000, the implied value). */
  readonly maxResponseMs: number;
  /** 0 for a general query. */
  readonly group: Ipv4;
  /** IGMPv3 fields; absent for v1/v2 queries. */
  readonly v3?: IgmpV3QueryFields;
}

export interface IgmpV3QueryFields {
  readonly suppressRouterSide: boolean;
  /** Querier's Robustness Variable, 0..7 (0 = "use your own"). */
  readonly robustness: number;
  /** Querier's Query Interval in seconds, decoded from QQIC. */
  readonly queryIntervalSeconds: number;
  readonly sources: readonly Ipv4[];
}

export interface IgmpV1Report {
  readonly type: 'v1-report';
  readonly group: Ipv4;
}

export interface IgmpV2Report {
  readonly type: 'v2-report';
  readonly group: Ipv4;
}

export interface IgmpV2Leave {
  readonly type: 'v2-leave';
  readonly group: Ipv4;
}

/** RFC 3376 section 4.2.12 record types, by their wire value. */
export type GroupRecordType =
  | 'is-include' // 1 MODE_IS_INCLUDE
  | 'is-exclude' // 2 MODE_IS_EXCLUDE
  | 'to-include' // 3 CHANGE_TO_INCLUDE_MODE
  | 'to-exclude' // 4 CHANGE_TO_EXCLUDE_MODE
  | 'allow' //      5 ALLOW_NEW_SOURCES
  | 'block'; //     6 BLOCK_OLD_SOURCES

export interface GroupRecord {
  readonly recordType: GroupRecordType;
  readonly group: Ipv4;
  readonly sources: readonly Ipv4[];
}

export interface IgmpV3Report {
  readonly type: 'v3-report';
  readonly records: readonly GroupRecord[];
}

export type IgmpMessage = IgmpQuery | IgmpV1Report | IgmpV2Report | IgmpV2Leave | IgmpV3Report;

/** An IPv4 datagram as received from or given to the raw socket. */
export interface Ipv4Packet {
  readonly source: Ipv4;
  readonly destination: Ipv4;
  readonly ttl: number;
  readonly tos: number;
  /** 2 for IGMP; 0 marks a kernel upcall (struct igmpmsg), see codec. */
  readonly protocol: number;
  /** True when the header carried the Router Alert option (RFC 2113). */
  readonly routerAlert: boolean;
  readonly payload: Uint8Array;
}

/** struct igmpmsg from <linux/mroute.h>: the multicast routing upcall. */
export type UpcallKind = 'nocache' | 'wrongvif' | 'wholepkt' | 'wrvifwhole';

export interface KernelUpcall {
  readonly kind: UpcallKind;
  readonly vif: number;
  readonly source: Ipv4;
  readonly group: Ipv4;
}

/** Parsers never throw: malformed input is a typed rejection with a short reason. */
