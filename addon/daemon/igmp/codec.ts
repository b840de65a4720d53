// IGMP messages (RFC 1112, 2236, 3376) <-> bytes of the IP payload. Parsing is strict on
// structure (lengths, counts, checksum) and leaves meaning (is the group multicast, is the
// querier ours) to the core. Every count is checked against the bytes actually present
// before anything is read, so a lying header costs O(1), not a loop.
import type { Ipv4 } from '../net/ipv4.ts';
import { isChecksumValid, writeChecksum } from './checksum.ts';
import { accept, reject } from './parsed.ts';
import { decodeMaxRespCode, decodeQqic, encodeMaxRespCode, encodeQqic } from './time-codes.ts';
import {
  IGMP_MEMBERSHIP_QUERY,
  IGMP_V1_MEMBERSHIP_REPORT,
  IGMP_V2_LEAVE_GROUP,
  IGMP_V2_MEMBERSHIP_REPORT,
  IGMP_V3_MEMBERSHIP_REPORT,
} from './types.ts';
import type { GroupRecord, GroupRecordType, IgmpMessage, IgmpQuery, IgmpV3QueryFields } from './types.ts';
import type { Result } from '../result.ts';

export { decodeMaxRespCode, decodeQqic, encodeMaxRespCode, encodeQqic } from './time-codes.ts';

/** v1/v2 messages and the fixed part of a v3 report. */
export const IGMP_HEADER_BYTES = 8;
/** Fixed part of a v3 query, before the source list. */
export const IGMP_V3_QUERY_HEADER_BYTES = 12;
/** Fixed part of a v3 group record, before sources and auxiliary data. */
export const IGMP_V3_RECORD_HEADER_BYTES = 8;
/** RFC 1112: a v1 query carries no time; hosts use 10 s. */
export const IGMP_V1_MAX_RESPONSE_MS = 10_000;
const MAX_COUNT = 0xffff;

/** Wire value (index) -> record type; index 0 and 7.. are not defined. */
const RECORD_TYPES: readonly (GroupRecordType | undefined)[] = [
  undefined,
  'is-include',
  'is-exclude',
  'to-include',
  'to-exclude',
  'allow',
  'block',
];

const RECORD_TYPE_CODES: Readonly<Record<GroupRecordType, number>> = {
  'is-include': 1,
  'is-exclude': 2,
  'to-include': 3,
  'to-exclude': 4,
  allow: 5,
  block: 6,
};

export function recordTypeCode(recordType: GroupRecordType): number {
  return RECORD_TYPE_CODES[recordType];
}

/** Wire size of a v3 group record without auxiliary data. */
export function groupRecordBytes(sourceCount: number): number {
  return IGMP_V3_RECORD_HEADER_BYTES + 4 * sourceCount;
}

/**
 * Parses the IGMP message that fills an IP payload. Rejects a checksum mismatch, unknown
 * message types, 9..11-byte queries (RFC 3376 7.1) and counts that overrun the buffer.
 * Bytes after the message proper (RFC 3376 4.1.10, 4.2.11) are accepted and ignored.
 * Group records of an unknown type are skipped and the rest of the report is kept, as
 * RFC 3376 section 4.2.12 ("MUST be silently ignored") asks; their length is still
 * taken from their header, so the records after them are read correctly.
 */
export function parseIgmp(payload: Uint8Array): Result<IgmpMessage> {
  if (payload.length < IGMP_HEADER_BYTES) return reject(`IGMP message truncated: ${payload.length} bytes`);
  if (!isChecksumValid(payload)) return reject('IGMP checksum mismatch');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const type = view.getUint8(0);
  const group = view.getUint32(4, false);
  switch (type) {
    case IGMP_MEMBERSHIP_QUERY:
      return parseQuery(view);
    case IGMP_V1_MEMBERSHIP_REPORT:
      return accept({ type: 'v1-report', group });
    case IGMP_V2_MEMBERSHIP_REPORT:
      return accept({ type: 'v2-report', group });
    case IGMP_V2_LEAVE_GROUP:
      return accept({ type: 'v2-leave', group });
    case IGMP_V3_MEMBERSHIP_REPORT:
      return parseV3Report(view);
    default:
      return reject(`unknown IGMP type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

function parseQuery(view: DataView): Result<IgmpMessage> {
  const length = view.byteLength;
  const maxRespCode = view.getUint8(1);
  const group = view.getUint32(4, false);
  if (length === IGMP_HEADER_BYTES) {
    if (maxRespCode === 0) {
      return accept({ type: 'query', version: 1, maxResponseMs: IGMP_V1_MAX_RESPONSE_MS, group });
    }
    return accept({ type: 'query', version: 2, maxResponseMs: maxRespCode * 100, group });
  }
  if (length < IGMP_V3_QUERY_HEADER_BYTES) {
    return reject(`IGMP query of ${length} bytes (9..11 is no version, RFC 3376 7.1)`);
  }
  const flags = view.getUint8(8);
  const sourceCount = view.getUint16(10, false);
  const room = Math.floor((length - IGMP_V3_QUERY_HEADER_BYTES) / 4);
  if (sourceCount > room) {
    return reject(`IGMPv3 query claims ${sourceCount} sources, ${length} bytes hold ${room}`);
  }
  const v3: IgmpV3QueryFields = {
    suppressRouterSide: (flags & 0x08) !== 0,
    robustness: flags & 0x07,
    queryIntervalSeconds: decodeQqic(view.getUint8(9)),
    sources: readAddresses(view, IGMP_V3_QUERY_HEADER_BYTES, sourceCount),
  };
  return accept({ type: 'query', version: 3, maxResponseMs: decodeMaxRespCode(maxRespCode), group, v3 });
}

function parseV3Report(view: DataView): Result<IgmpMessage> {
  const length = view.byteLength;
  const recordCount = view.getUint16(6, false);
  const room = Math.floor((length - IGMP_HEADER_BYTES) / IGMP_V3_RECORD_HEADER_BYTES);
  if (recordCount > room) {
    return reject(`IGMPv3 report claims ${recordCount} records, ${length} bytes hold at most ${room}`);
  }
  const records: GroupRecord[] = [];
  let offset = IGMP_HEADER_BYTES;
  for (let index = 0; index < recordCount; index++) {
    if (offset + IGMP_V3_RECORD_HEADER_BYTES > length) {
      return reject(`IGMPv3 report truncated in record ${index + 1} of ${recordCount}`);
    }
    const typeCode = view.getUint8(offset);
    const auxWords = view.getUint8(offset + 1);
    const sourceCount = view.getUint16(offset + 2, false);
    const group = view.getUint32(offset + 4, false);
    const end = offset + groupRecordBytes(sourceCount) + 4 * auxWords;
    if (end > length) {
      return reject(
        `IGMPv3 record ${index + 1} of ${recordCount} (${sourceCount} sources, ${auxWords} aux words) ` +
          `overruns the ${length}-byte report`,
      );
    }
    const recordType = RECORD_TYPES[typeCode];
    if (recordType !== undefined) {
      records.push({
        recordType,
        group,
        sources: readAddresses(view, offset + IGMP_V3_RECORD_HEADER_BYTES, sourceCount),
      });
    }
    offset = end;
  }
  return accept({ type: 'v3-report', records });
}

function readAddresses(view: DataView, offset: number, count: number): Ipv4[] {
  const addresses = new Array<Ipv4>(count);
  for (let index = 0; index < count; index++) addresses[index] = view.getUint32(offset + 4 * index, false);
  return addresses;
}

/**
 * Serialises a message with its checksum. Timing fields are rounded down to what the wire
 * can say (see time-codes.ts); a v2 query's Max Resp Time is at least 1 (0.1 s) because
 * 0 would make it a v1 query. v1 queries always carry 0. A version 3 query without v3
 * fields gets RFC 3376 defaults (QRV 2, QQI 125 s, no sources). Throws RangeError for
 * counts or addresses that cannot be encoded: a programming error.
 */
export function buildIgmp(message: IgmpMessage): Uint8Array {
  switch (message.type) {
    case 'query':
      return buildQuery(message);
    case 'v1-report':
      return buildSimple(IGMP_V1_MEMBERSHIP_REPORT, 0, message.group);
    case 'v2-report':
      return buildSimple(IGMP_V2_MEMBERSHIP_REPORT, 0, message.group);
    case 'v2-leave':
      return buildSimple(IGMP_V2_LEAVE_GROUP, 0, message.group);
    case 'v3-report':
      return buildV3Report(message.records);
  }
}

const DEFAULT_V3_FIELDS: IgmpV3QueryFields = {
  suppressRouterSide: false,
  robustness: 2,
  queryIntervalSeconds: 125,
  sources: [],
};

function buildQuery(query: IgmpQuery): Uint8Array {
  if (query.version === 1) return buildSimple(IGMP_MEMBERSHIP_QUERY, 0, query.group);
  if (query.version === 2) {
    const tenths = Math.floor(query.maxResponseMs / 100);
    const code = Number.isNaN(tenths) ? 1 : Math.min(0xff, Math.max(1, tenths));
    return buildSimple(IGMP_MEMBERSHIP_QUERY, code, query.group);
  }
  const fields = query.v3 ?? DEFAULT_V3_FIELDS;
  requireCount('v3 query sources', fields.sources.length);
  const bytes = new Uint8Array(IGMP_V3_QUERY_HEADER_BYTES + 4 * fields.sources.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, IGMP_MEMBERSHIP_QUERY);
  view.setUint8(1, encodeMaxRespCode(query.maxResponseMs));
  view.setUint32(4, requireAddress(query.group), false);
  // RFC 3376 4.1.6: a QRV above 7 is sent as 0.
  const { robustness: qrv } = fields;
  const robustness = Number.isInteger(qrv) && qrv >= 0 && qrv <= 7 ? qrv : 0;
  view.setUint8(8, (fields.suppressRouterSide ? 0x08 : 0) | robustness);
  view.setUint8(9, encodeQqic(fields.queryIntervalSeconds));
  view.setUint16(10, fields.sources.length, false);
  writeAddresses(view, IGMP_V3_QUERY_HEADER_BYTES, fields.sources);
  writeChecksum(bytes, 2);
  return bytes;
}

function buildSimple(type: number, code: number, group: Ipv4): Uint8Array {
  const bytes = new Uint8Array(IGMP_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint8(1, code);
  view.setUint32(4, requireAddress(group), false);
  writeChecksum(bytes, 2);
  return bytes;
}

function buildV3Report(records: readonly GroupRecord[]): Uint8Array {
  requireCount('v3 report records', records.length);
  let size = IGMP_HEADER_BYTES;
  for (const record of records) {
    requireCount('v3 record sources', record.sources.length);
    size += groupRecordBytes(record.sources.length);
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, IGMP_V3_MEMBERSHIP_REPORT);
  view.setUint16(6, records.length, false);
  let offset = IGMP_HEADER_BYTES;
  for (const record of records) {
    view.setUint8(offset, recordTypeCode(record.recordType));
    // Aux data length (offset + 1) stays 0: IGMPv3 defines no auxiliary data.
    view.setUint16(offset + 2, record.sources.length, false);
    view.setUint32(offset + 4, requireAddress(record.group), false);
    writeAddresses(view, offset + IGMP_V3_RECORD_HEADER_BYTES, record.sources);
    offset += groupRecordBytes(record.sources.length);
  }
  writeChecksum(bytes, 2);
  return bytes;
}

function writeAddresses(view: DataView, offset: number, addresses: readonly Ipv4[]): void {
  for (let index = 0; index < addresses.length; index++) {
    view.setUint32(offset + 4 * index, requireAddress(addresses[index] as Ipv4), false);
  }
}

function requireCount(what: string, count: number): void {
  if (count > MAX_COUNT) throw new RangeError(`${what}: ${count} exceeds ${MAX_COUNT}`);
}

function requireAddress(address: Ipv4): Ipv4 {
  if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) {
    throw new RangeError(`not an IPv4 number: ${address}`);
  }
  return address;
}
