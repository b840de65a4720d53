import { describe, expect, it } from 'vitest';
import { writeChecksum } from '../../addon/daemon/igmp/checksum.ts';
import { buildIgmp, parseIgmp } from '../../addon/daemon/igmp/codec.ts';
import type { GroupRecordType, IgmpMessage } from '../../addon/daemon/igmp/types.ts';
import { atOffset, fromHex, ip, sources, toHex } from './helpers.ts';

// Expected bytes reasoned from the RFC layouts; checksums computed by hand (sum of
// 16-bit words, carries folded, complemented).
const KNOWN: [string, string, IgmpMessage][] = [
  // 0x1164 -> checksum ee9b: the classic v2 general query, max resp 10 s.
  ['v2 general query', '1164 ee9b 00000000', { type: 'query', version: 2, maxResponseMs: 10_000, group: 0 }],
  // 0x1100 -> eeff; max resp 0 in 8 bytes makes it v1 (RFC 3376 7.1).
  ['v1 query', '1100 eeff 00000000', { type: 'query', version: 1, maxResponseMs: 10_000, group: 0 }],
  // 0x110a + 0xef01 + 0x0101 = 0x1010c -> 0x010d -> fef2
  ['v2 group query', '110a fef2 ef010101', { type: 'query', version: 2, maxResponseMs: 1_000, group: ip('239.1.1.1') }],
  // 0x1600 + 0xef01 + 0x0101 = 0x10602 -> 0x0603 -> f9fc
  ['v2 report', '1600 f9fc ef010101', { type: 'v2-report', group: ip('239.1.1.1') }],
  // 0x1200 + 0xef01 + 0x0101 = 0x10202 -> 0x0203 -> fdfc
  ['v1 report', '1200 fdfc ef010101', { type: 'v1-report', group: ip('239.1.1.1') }],
  // 0x1700 + 0xef01 + 0x0101 = 0x10702 -> 0x0703 -> f8fc
  ['v2 leave', '1700 f8fc ef010101', { type: 'v2-leave', group: ip('239.1.1.1') }],
  // 0x1164 + 0x027d = 0x13e1 -> ec1e; QRV 2, QQIC 125, no sources.
  [
    'v3 general query',
    '1164 ec1e 00000000 027d 0000',
    {
      type: 'query',
      version: 3,
      maxResponseMs: 10_000,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
    },
  ],
  // S flag + QRV 2 = 0x0a; words sum 0x1188e -> 0x188f -> e770.
  [
    'v3 group-and-source query',
    '110a e770 e8010101 0a7d 0002 0a000001 0a000002',
    {
      type: 'query',
      version: 3,
      maxResponseMs: 1_000,
      group: ip('232.1.1.1'),
      v3: {
        suppressRouterSide: true,
        robustness: 2,
        queryIntervalSeconds: 125,
        sources: [ip('10.0.0.1'), ip('10.0.0.2')],
      },
    },
  ],
  // Max Resp Code 0x80 = 12.8 s, QQIC 0x80 = 128 s: 0x1180 + 0x0780 = 0x1900 -> e6ff.
  [
    'v3 query with float codes',
    '1180 e6ff 00000000 0780 0000',
    {
      type: 'query',
      version: 3,
      maxResponseMs: 12_800,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 7, queryIntervalSeconds: 128, sources: [] },
    },
  ],
  // to-exclude 239.1.1.1 {} and allow 232.1.1.1 {10.0.0.1}: words sum 0x20e08 -> 0x0e0a -> f1f5.
  [
    'v3 report',
    '2200 f1f5 0000 0002 04 00 0000 ef010101 05 00 0001 e8010101 0a000001',
    {
      type: 'v3-report',
      records: [
        { recordType: 'to-exclude', group: ip('239.1.1.1'), sources: [] },
        { recordType: 'allow', group: ip('232.1.1.1'), sources: [ip('10.0.0.1')] },
      ],
    },
  ],
];

describe('IGMP known answers', () => {
  for (const [name, hex, message] of KNOWN) {
    it(`builds ${name}`, () => {
      expect(toHex(buildIgmp(message))).toBe(hex.replace(/\s/g, ''));
    });
    it(`parses ${name}`, () => {
      expect(parseIgmp(fromHex(hex))).toEqual({ ok: true, value: message });
    });
  }

  it('parses from a Buffer at a non-zero offset', () => {
    const view = atOffset(fromHex('110a e770 e8010101 0a7d 0002 0a000001 0a000002'));
    const parsed = parseIgmp(Buffer.from(view.buffer, view.byteOffset, view.byteLength));
    expect(parsed.ok && parsed.value.type === 'query' && parsed.value.v3?.sources).toEqual([
      ip('10.0.0.1'),
      ip('10.0.0.2'),
    ]);
  });
});

describe('IGMP round trips', () => {
  const recordTypes: GroupRecordType[] = ['is-include', 'is-exclude', 'to-include', 'to-exclude', 'allow', 'block'];
  const messages: [string, IgmpMessage][] = [
    ['v1 query', { type: 'query', version: 1, maxResponseMs: 10_000, group: 0 }],
    ['v2 query 25.5 s', { type: 'query', version: 2, maxResponseMs: 25_500, group: ip('239.255.255.250') }],
    ['v2 query 0.1 s', { type: 'query', version: 2, maxResponseMs: 100, group: 0 }],
    ['v1 report', { type: 'v1-report', group: ip('224.1.2.3') }],
    ['v2 report', { type: 'v2-report', group: ip('239.35.10.1') }],
    ['v2 leave', { type: 'v2-leave', group: ip('239.35.10.1') }],
    [
      'v3 query with 1000 sources',
      {
        type: 'query',
        version: 3,
        maxResponseMs: 3_174_400,
        group: ip('232.0.0.9'),
        v3: { suppressRouterSide: true, robustness: 0, queryIntervalSeconds: 31744, sources: sources(1000) },
      },
    ],
    [
      'v3 report with every record type and many sources',
      {
        type: 'v3-report',
        records: recordTypes.map((recordType, index) => ({
          recordType,
          group: ip('239.0.0.1') + index,
          sources: sources(index * 150, 0xc0000200 + index * 1000),
        })),
      },
    ],
    ['empty v3 report', { type: 'v3-report', records: [] }],
  ];
  for (const [name, message] of messages) {
    it(`${name} survives build -> parse`, () => {
      expect(parseIgmp(buildIgmp(message))).toEqual({ ok: true, value: message });
    });
  }

  it('rounds times down to the representable value', () => {
    const v2 = parseIgmp(buildIgmp({ type: 'query', version: 2, maxResponseMs: 1_299, group: 0 }));
    expect(v2.ok && v2.value.type === 'query' && v2.value.maxResponseMs).toBe(1_200);
    const v3 = parseIgmp(
      buildIgmp({
        type: 'query',
        version: 3,
        maxResponseMs: 25_000,
        group: 0,
        v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 300, sources: [] },
      }),
    );
    expect(v3.ok && v3.value.type === 'query' && [v3.value.maxResponseMs, v3.value.v3?.queryIntervalSeconds]).toEqual([
      24_800, 288,
    ]);
  });

  it('keeps a v2 query v2 however small its time, and caps it at 25.5 s', () => {
    const tiny = buildIgmp({ type: 'query', version: 2, maxResponseMs: 0, group: 0 });
    expect(tiny[1]).toBe(1);
    const parsed = parseIgmp(tiny);
    expect(parsed.ok && parsed.value.type === 'query' && parsed.value.version).toBe(2);
    expect(buildIgmp({ type: 'query', version: 2, maxResponseMs: 60_000, group: 0 })[1]).toBe(255);
  });

  it('sends a QRV above 7 as 0 (RFC 3376 4.1.6) and defaults missing v3 fields', () => {
    const big = buildIgmp({
      type: 'query',
      version: 3,
      maxResponseMs: 10_000,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 9, queryIntervalSeconds: 125, sources: [] },
    });
    expect(big[8]).toBe(0);
    expect(toHex(buildIgmp({ type: 'query', version: 3, maxResponseMs: 10_000, group: 0 }))).toBe(
      '1164ec1e00000000027d0000',
    );
  });

  it('throws RangeError for unencodable counts and addresses', () => {
    expect(() => buildIgmp({ type: 'v2-report', group: 2 ** 32 })).toThrow(RangeError);
    expect(() => buildIgmp({ type: 'v2-report', group: 1.5 })).toThrow(RangeError);
    expect(() =>
      buildIgmp({
        type: 'v3-report',
        records: [{ recordType: 'allow', group: ip('232.1.1.1'), sources: sources(65536) }],
      }),
    ).toThrow(RangeError);
  });
});

describe('IGMP parsing leniency required by the RFCs', () => {
  it('ignores bytes after a v2 report (RFC 2236 2.5) and after a v3 message', () => {
    expect(parseIgmp(fixed('1600 0000 ef010101 deadbeef'))).toEqual({
      ok: true,
      value: { type: 'v2-report', group: ip('239.1.1.1') },
    });
    const query = parseIgmp(fixed('1164 0000 00000000 027d 0000 0102'));
    expect(query.ok && query.value.type === 'query' && query.value.version).toBe(3);
    const report = parseIgmp(fixed('2200 0000 0000 0000 ffff'));
    expect(report).toEqual({ ok: true, value: { type: 'v3-report', records: [] } });
  });

  it('skips a record of unknown type (using its lengths) and keeps the others', () => {
    // record 1: type 9 with 1 source and 2 aux words; record 2: is-exclude with 1 aux word.
    const parsed = parseIgmp(
      fixed(
        '2200 0000 0000 0003' +
          '09 02 0001 ef000001 0a000001 11111111 22222222' +
          '02 01 0000 ef000002 33333333' +
          '00 00 0000 ef000003',
      ),
    );
    expect(parsed).toEqual({
      ok: true,
      value: { type: 'v3-report', records: [{ recordType: 'is-exclude', group: ip('239.0.0.2'), sources: [] }] },
    });
  });

  it('ignores the reserved bits of a v3 query', () => {
    const parsed = parseIgmp(fixed('1164 0000 00000000 f27d 0000'));
    expect(parsed.ok && parsed.value.type === 'query' && parsed.value.v3).toEqual({
      suppressRouterSide: false,
      robustness: 2,
      queryIntervalSeconds: 125,
      sources: [],
    });
  });
});

describe('IGMP rejections', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['an empty payload', new Uint8Array(0), /truncated/],
    ['7 bytes', fromHex('1600 f9fc ef0101'), /truncated/],
    ['a checksum mismatch', fromHex('1600 f9fd ef010101'), /checksum/],
    [
      'a corrupted v3 report',
      fromHex('2200 f1f5 0000 0002 04 00 0000 ef010101 05 00 0001 e8010101 0a000002'),
      /checksum/,
    ],
    ['an unknown type', fixed('1300 0000 00000000'), /unknown IGMP type 0x13/],
    ['a 9-byte query', fixed('1164 0000 00000000 02'), /9 bytes/],
    ['an 11-byte query', fixed('1164 0000 00000000 027d 00'), /11 bytes/],
    ['a v3 query with more sources than bytes', fixed('1164 0000 00000000 027d 0002 0a000001'), /claims 2 sources/],
    ['a v3 query claiming 65535 sources', fixed('1164 0000 00000000 027d ffff'), /claims 65535 sources/],
    [
      'a v3 report claiming 65535 records in 40 bytes',
      fixed(`2200 0000 0000 ffff${'00'.repeat(32)}`),
      /claims 65535 records/,
    ],
    ['a v3 report whose record overruns', fixed('2200 0000 0000 0001 01 00 0002 ef000001 0a000001'), /overruns/],
    ['a v3 report whose aux data overruns', fixed('2200 0000 0000 0001 01 01 0000 ef000001'), /overruns/],
    [
      'a v3 report truncated inside a record header',
      fixed('2200 0000 0000 0002 01 00 0001 ef000001 0a000001 01 00 0000 ef00'),
      /truncated in record 2/,
    ],
  ];
  for (const [what, bytes, reason] of cases) {
    it(`rejects ${what}`, () => {
      const parsed = parseIgmp(bytes);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    });
  }
});

/** Hex with the checksum field (bytes 2..3) computed, so only the intended defect remains. */
function fixed(hex: string): Uint8Array {
  const bytes = fromHex(hex);
  writeChecksum(bytes, 2);
  return bytes;
}
