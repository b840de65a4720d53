import { describe, expect, it } from 'vitest';
import { parseIgmp } from '../../addon/daemon/igmp/codec.ts';
import type { GroupRecord, GroupRecordType } from '../../addon/daemon/igmp/types.ts';
import {
  buildV3Reports,
  MAX_V3_REPORT_BYTES,
  MIN_V3_REPORT_BYTES,
  planV3Reports,
} from '../../addon/daemon/igmp/v3-reports.ts';
import { ip, mulberry32, randomInt, sources } from './helpers.ts';

function parseAll(reports: Uint8Array[]): GroupRecord[][] {
  return reports.map((bytes) => {
    const parsed = parseIgmp(bytes);
    if (!parsed.ok || parsed.value.type !== 'v3-report')
      throw new Error(`unparsable report: ${parsed.ok ? parsed.value.type : parsed.reason}`);
    return [...parsed.value.records];
  });
}

/** group -> type -> sources, merging split records; order of sources kept. */
function union(records: readonly GroupRecord[]): Map<string, number[]> {
  const merged = new Map<string, number[]>();
  for (const record of records) {
    const key = `${record.recordType} ${record.group}`;
    merged.set(key, [...(merged.get(key) ?? []), ...record.sources]);
  }
  return merged;
}

describe('buildV3Reports', () => {
  it('puts records that fit into one report, in order', () => {
    const records: GroupRecord[] = [
      { recordType: 'is-exclude', group: ip('239.1.1.1'), sources: [] },
      { recordType: 'is-include', group: ip('232.1.1.1'), sources: [ip('10.0.0.1')] },
    ];
    const reports = buildV3Reports(records, 1476);
    expect(reports).toHaveLength(1);
    expect(parseAll(reports)).toEqual([records]);
    expect(buildV3Reports([], 1476)).toEqual([]);
  });

  it('answers a general query for 500 groups within a 1500-byte MTU', () => {
    const records: GroupRecord[] = Array.from({ length: 500 }, (_, index) => ({
      recordType: 'is-exclude',
      group: ip('239.0.0.0') + index,
      sources: [],
    }));
    const limit = 1500 - 24;
    const reports = buildV3Reports(records, limit);
    // (1476 - 8) / 8 = 183 records per report -> 183 + 183 + 134
    expect(reports.map((bytes) => bytes.length)).toEqual([8 + 183 * 8, 8 + 183 * 8, 8 + 134 * 8]);
    expect(parseAll(reports).flat()).toEqual(records);
  });

  it('splits an oversized allow/block/include record into source subsets, one per report', () => {
    const limit = 8 + 8 + 4 * 10; // 10 sources per report
    for (const recordType of ['allow', 'block', 'is-include', 'to-include'] as const) {
      const record: GroupRecord = { recordType, group: ip('232.1.1.1'), sources: sources(25) };
      const plan = planV3Reports([record], limit);
      expect(plan.truncated).toEqual([]);
      expect(plan.messages.map((records) => records.map((r) => r.sources.length))).toEqual([[10], [10], [5]]);
      const reports = buildV3Reports([record], limit);
      expect(reports.every((bytes) => bytes.length <= limit)).toBe(true);
      expect(union(parseAll(reports).flat())).toEqual(union([record]));
    }
  });

  it('truncates an oversized exclude record and reports what was dropped', () => {
    const limit = 8 + 8 + 4 * 10;
    for (const recordType of ['is-exclude', 'to-exclude'] as const) {
      const all = sources(25);
      const before: GroupRecord = { recordType: 'allow', group: ip('232.9.9.9'), sources: [ip('10.9.9.9')] };
      const record: GroupRecord = { recordType, group: ip('239.1.1.1'), sources: all };
      const plan = planV3Reports([before, record], limit);
      expect(plan.messages).toEqual([[before], [{ recordType, group: ip('239.1.1.1'), sources: all.slice(0, 10) }]]);
      expect(plan.truncated).toEqual([{ recordType, group: ip('239.1.1.1'), droppedSources: all.slice(10) }]);
    }
  });

  it('fills the rest of the current report with the first chunk of a split record', () => {
    const limit = 8 + 8 + 4 * 10;
    const small: GroupRecord = { recordType: 'allow', group: ip('232.0.0.1'), sources: sources(2) };
    const big: GroupRecord = { recordType: 'block', group: ip('232.0.0.2'), sources: sources(30, 0x0b000001) };
    const plan = planV3Reports([small, big], limit);
    // Report 1: small (16 bytes) + block with (56 - 8 - 16 - 8) / 4 = 6 sources; then 10, 10, 4.
    expect(plan.messages.map((records) => records.map((r) => `${r.recordType}:${r.sources.length}`))).toEqual([
      ['allow:2', 'block:6'],
      ['block:10'],
      ['block:10'],
      ['block:4'],
    ]);
  });

  it('rejects limits too small to carry one source and clamps huge ones', () => {
    expect(() => buildV3Reports([], MIN_V3_REPORT_BYTES - 1)).toThrow(RangeError);
    expect(() => buildV3Reports([], Number.NaN)).toThrow(RangeError);
    expect(
      buildV3Reports([{ recordType: 'allow', group: ip('232.1.1.1'), sources: sources(1) }], MIN_V3_REPORT_BYTES),
    ).toHaveLength(1);
    const huge = buildV3Reports([{ recordType: 'allow', group: ip('232.1.1.1'), sources: sources(40_000) }], 1e9);
    expect(huge.every((bytes) => bytes.length <= MAX_V3_REPORT_BYTES)).toBe(true);
    expect(huge).toHaveLength(3);
  });

  it('keeps every report within the limit and loses nothing, for random inputs', () => {
    const random = mulberry32(0x1a2b3c);
    const types: GroupRecordType[] = ['is-include', 'is-exclude', 'to-include', 'to-exclude', 'allow', 'block'];
    for (let round = 0; round < 200; round++) {
      const limit = MIN_V3_REPORT_BYTES + randomInt(random, 600);
      const records: GroupRecord[] = Array.from({ length: randomInt(random, 40) }, (_, index) => ({
        recordType: types[randomInt(random, types.length)]!,
        group: (0xe8000000 + round * 1000 + index) >>> 0, // distinct groups, so unions are per record
        sources: sources(
          randomInt(random, 3) === 0 ? randomInt(random, 400) : randomInt(random, 5),
          0x0a000000 + index * 0x10000,
        ),
      }));
      const plan = planV3Reports(records, limit);
      const reports = buildV3Reports(records, limit);
      expect(reports.every((bytes) => bytes.length <= limit)).toBe(true);
      const parsed = parseAll(reports);
      expect(parsed).toEqual(plan.messages);
      // Expected union: the input, minus what the plan says it dropped from exclude records.
      const dropped = new Map(plan.truncated.map((t) => [`${t.recordType} ${t.group}`, t.droppedSources.length]));
      const expected = new Map(
        [...union(records)].map(([key, list]) => [key, list.slice(0, list.length - (dropped.get(key) ?? 0))]),
      );
      expect(union(parsed.flat())).toEqual(expected);
      for (const truncation of plan.truncated) expect(['is-exclude', 'to-exclude']).toContain(truncation.recordType);
      // Nothing is dropped from a record that fits into one report on its own.
      for (const truncation of plan.truncated) {
        const original = records.find((r) => r.group === truncation.group)!;
        expect(8 + 8 + 4 * original.sources.length).toBeGreaterThan(limit);
      }
    }
  });
});
