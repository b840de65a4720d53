// The IGMP/IPv4 codec's public surface, for the core and the daemon.
export { internetChecksum, isChecksumValid, onesComplementSum } from './checksum.ts';
export {
  buildIgmp,
  groupRecordBytes,
  IGMP_HEADER_BYTES,
  IGMP_V1_MAX_RESPONSE_MS,
  IGMP_V3_QUERY_HEADER_BYTES,
  IGMP_V3_RECORD_HEADER_BYTES,
  parseIgmp,
} from './codec.ts';
export { describeIgmp } from './describe.ts';
export {
  buildIpv4Packet,
  IPPROTO_IGMP,
  IPV4_HEADER_BYTES_WITH_ROUTER_ALERT,
  IPV4_MIN_HEADER_BYTES,
  parseIpv4Packet,
} from './ipv4-header.ts';
export { decodeMaxRespCode, decodeQqic, encodeMaxRespCode, encodeQqic } from './time-codes.ts';
export { classifyRawDatagram, parseUpcall } from './upcall.ts';
export type { RawDatagram } from './upcall.ts';
export { buildV3Reports, MAX_V3_REPORT_BYTES, MIN_V3_REPORT_BYTES, planV3Reports } from './v3-reports.ts';
export type { TruncatedRecord, V3ReportPlan } from './v3-reports.ts';
export * from './types.ts';
