// Packing IGMPv3 group records into as few reports as fit a size limit (RFC 3376 4.2.16).
// The core answers a general query with one record per group, possibly hundreds.
import type { Ipv4 } from '../net/ipv4.ts';
import { buildIgmp, groupRecordBytes, IGMP_HEADER_BYTES, IGMP_V3_RECORD_HEADER_BYTES } from './codec.ts';
import { IPV4_HEADER_BYTES_WITH_ROUTER_ALERT, IPV4_MAX_TOTAL_LENGTH } from './ipv4-header.ts';
import type { GroupRecord, GroupRecordType } from './types.ts';

/** Smallest useful limit: report header plus one record holding one source. */
export const MIN_V3_REPORT_BYTES = IGMP_HEADER_BYTES + IGMP_V3_RECORD_HEADER_BYTES + 4;
/** Largest IGMP payload of one datagram sent with the Router Alert option. */
export const MAX_V3_REPORT_BYTES = IPV4_MAX_TOTAL_LENGTH - IPV4_HEADER_BYTES_WITH_ROUTER_ALERT;

/** Sources left out of an exclude-mode record that was too large for one report. */
export interface TruncatedRecord {
  readonly recordType: GroupRecordType;
  readonly group: Ipv4;
  readonly droppedSources: readonly Ipv4[];
}

export interface V3ReportPlan {
  /** The records of each report, in input order. */
  readonly messages: readonly (readonly GroupRecord[])[];
  readonly truncated: readonly TruncatedRecord[];
}

/**
 * Distributes records over reports of at most maxPayloadBytes (clamped to what one
 * datagram can carry), greedily and in order. A record too big for any single report is,
 * per RFC 3376 4.2.16, split into records with disjoint source subsets, each in its own
 * report -- except is-exclude/to-exclude, where splitting would change the meaning: those
 * keep as many sources as fit one report and the rest are listed in `truncated`.
 * Throws RangeError when maxPayloadBytes is below MIN_V3_REPORT_BYTES.
 */
export function planV3Reports(records: readonly GroupRecord[], maxPayloadBytes: number): V3ReportPlan {
  if (!(maxPayloadBytes >= MIN_V3_REPORT_BYTES)) {
    throw new RangeError(`IGMPv3 report limit ${maxPayloadBytes} below ${MIN_V3_REPORT_BYTES} bytes`);
  }
  const limit = Math.min(Math.floor(maxPayloadBytes), MAX_V3_REPORT_BYTES);
  const sourcesPerReport = Math.floor((limit - IGMP_HEADER_BYTES - IGMP_V3_RECORD_HEADER_BYTES) / 4);
  const messages: GroupRecord[][] = [];
  const truncated: TruncatedRecord[] = [];
  let current: GroupRecord[] = [];
  let used = IGMP_HEADER_BYTES;

  const flush = (): void => {
    if (current.length > 0) messages.push(current);
    current = [];
    used = IGMP_HEADER_BYTES;
  };
  const place = (record: GroupRecord): void => {
    const size = groupRecordBytes(record.sources.length);
    if (used + size > limit) flush();
    current.push(record);
    used += size;
  };

  for (const record of records) {
    const { sources } = record;
    if (sources.length <= sourcesPerReport) {
      place(record);
    } else if (record.recordType === 'is-exclude' || record.recordType === 'to-exclude') {
      place({ ...record, sources: sources.slice(0, sourcesPerReport) });
      truncated.push({
        recordType: record.recordType,
        group: record.group,
        droppedSources: sources.slice(sourcesPerReport),
      });
    } else {
      // Fill what is left of the current report, then one full report per chunk; each
      // chunk ends up in a different report because the previous one filled its report.
      let next = 0;
      while (next < sources.length) {
        const room = Math.floor((limit - used - IGMP_V3_RECORD_HEADER_BYTES) / 4);
        if (room < 1) {
          flush();
          continue;
        }
        const take = Math.min(room, sources.length - next);
        place({ ...record, sources: sources.slice(next, next + take) });
        next += take;
      }
    }
  }
  flush();
  return { messages, truncated };
}

/** planV3Reports, serialised; see there for splitting and truncation. Empty input gives no reports. */
export function buildV3Reports(records: readonly GroupRecord[], maxPayloadBytes: number): Uint8Array[] {
  return planV3Reports(records, maxPayloadBytes).messages.map((batch) =>
    buildIgmp({ type: 'v3-report', records: batch }),
  );
}
