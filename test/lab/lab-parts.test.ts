// Unit tests of the lab's pure parts: the stream payload, sequence accounting, the
// provider's membership logic, the malformed-IGMP generator and the /proc parsers.
import { describe, expect, test } from 'vitest';
import { buildIgmp, parseIgmp } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { groupStatements, LinkMemberships } from '../../scripts/lab/isp-memberships.ts';
import { malformedIgmpPayloads } from '../../scripts/lab/malformed-igmp.ts';
import { parseCpuSplit, parseCpuTicks, parseRawIgmpDrops, parseStatusKb } from '../../scripts/lab/proc-stats.ts';
import {
  decodeStreamPacket,
  encodeStreamPacket,
  SequenceTracker,
  STREAM_PAYLOAD_BYTES,
} from '../../scripts/lab/stream-payload.ts';

const G1 = parseIpv4('239.1.1.1') as number;
const G2 = parseIpv4('239.1.1.2') as number;

describe('stream payload', () => {
  test('round-trips group, sequence and send time, padded to the requested size', () => {
    const bytes = encodeStreamPacket({ group: G1, sequence: 4_000_000_001, sentAtMs: 1234.5678 }, 64);
    expect(bytes.length).toBe(64);
    expect(decodeStreamPacket(bytes)).toEqual({ group: G1, sequence: 4_000_000_001, sentAtMs: 1234.5678 });
  });

  test('rejects foreign and short datagrams', () => {
    expect(decodeStreamPacket(Buffer.alloc(STREAM_PAYLOAD_BYTES - 1))).toBeUndefined();
    const foreign = encodeStreamPacket({ group: G1, sequence: 1, sentAtMs: 1 });
    foreign[0] = 0;
    expect(decodeStreamPacket(foreign)).toBeUndefined();
  });

  test('the tracker counts skipped sequence numbers as gaps and late ones as out of order', () => {
    const tracker = new SequenceTracker();
    expect(tracker.record(10)).toBe(true);
    expect(tracker.record(11)).toBe(false);
    tracker.record(14); // 12, 13 lost
    tracker.record(13); // late
    tracker.record(15);
    expect({
      packets: tracker.packets,
      gaps: tracker.gaps,
      outOfOrder: tracker.outOfOrder,
      lost: tracker.lost,
    }).toEqual({ packets: 5, gaps: 2, outOfOrder: 1, lost: 1 });
    tracker.record(15); // a duplicate fills no hole
    tracker.record(12); // late: 12 was not lost after all
    expect({ outOfOrder: tracker.outOfOrder, lost: tracker.lost }).toEqual({ outOfOrder: 3, lost: 0 });
  });
});

describe('provider membership logic', () => {
  test('reads joins, leaves and current state from v2 and v3 reports', () => {
    expect(groupStatements({ type: 'v2-report', group: G1 })).toEqual([{ group: G1, kind: 'join', version: 2 }]);
    expect(groupStatements({ type: 'v2-leave', group: G1 })).toEqual([{ group: G1, kind: 'leave', version: 2 }]);
    expect(groupStatements({ type: 'v1-report', group: G1 })).toEqual([{ group: G1, kind: 'join', version: 1 }]);
    const v3 = groupStatements({
      type: 'v3-report',
      records: [
        { recordType: 'to-exclude', group: G1, sources: [] },
        { recordType: 'to-include', group: G2, sources: [] },
        { recordType: 'is-exclude', group: G1, sources: [] },
        { recordType: 'block', group: G2, sources: [1] },
        { recordType: 'allow', group: G2, sources: [] },
      ],
    });
    expect(v3.map((statement) => [statement.group, statement.kind, statement.recordType])).toEqual([
      [G1, 'join', 'to-exclude'],
      [G2, 'leave', 'to-include'],
      [G1, 'current', 'is-exclude'],
    ]);
    expect(groupStatements({ type: 'query', version: 2, maxResponseMs: 1000, group: 0 })).toEqual([]);
  });

  test('a join starts a group once; a leave leaves it for the last-member time; silence expires it', () => {
    const links = new LinkMemberships({ membershipMs: 10_000, lastMemberMs: 400 });
    expect(links.apply({ group: G1, kind: 'join', version: 3 }, 0)).toEqual({ group: G1, change: 'started' });
    expect(links.apply({ group: G1, kind: 'current', version: 3 }, 100)).toBeUndefined();
    expect(links.apply({ group: G1, kind: 'leave', version: 3 }, 1_000)).toBe('leave-pending');
    // The host repeats its leave (robustness): no second round of queries.
    expect(links.apply({ group: G1, kind: 'leave', version: 3 }, 1_050)).toBeUndefined();
    expect(links.nextDeadline()).toBe(1_400);
    expect(links.expire(1_399)).toEqual([]);
    expect(links.expire(1_400)).toEqual([{ group: G1, change: 'stopped' }]);
    expect(links.groups).toEqual([]);
    expect(links.apply({ group: G2, kind: 'leave', version: 2 }, 0)).toBeUndefined();
  });

  test('an answer to the last-member query keeps the group', () => {
    const links = new LinkMemberships({ membershipMs: 10_000, lastMemberMs: 400 });
    links.apply({ group: G1, kind: 'join', version: 2 }, 0);
    links.apply({ group: G1, kind: 'leave', version: 2 }, 1_000);
    links.apply({ group: G1, kind: 'join', version: 2 }, 1_200);
    expect(links.expire(1_400)).toEqual([]);
    expect(links.nextDeadline()).toBe(11_200);
    expect(links.drop(G1)).toEqual({ group: G1, change: 'stopped' });
    expect(links.drop(G1)).toBeUndefined();
  });
});

describe('malformed IGMP generator', () => {
  test('is deterministic per seed and varies with it', () => {
    const a = malformedIgmpPayloads(200, 42).map((payload) => payload.bytes.toString('hex'));
    const b = malformedIgmpPayloads(200, 42).map((payload) => payload.bytes.toString('hex'));
    const c = malformedIgmpPayloads(200, 43).map((payload) => payload.bytes.toString('hex'));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  test('every one of 10,000 payloads is rejected by the IGMP parser, and every kind of damage occurs', () => {
    const payloads = malformedIgmpPayloads(10_000, 7);
    expect(payloads.filter((payload) => parseIgmp(payload.bytes).ok)).toEqual([]);
    expect(new Set(payloads.map((payload) => payload.mutation)).size).toBe(6);
    // Damage is not just noise: many are well-formed in size and type, wrong in one detail.
    const reportLike = payloads.filter((payload) => payload.bytes.length >= 8 && payload.bytes[0] === 0x22);
    expect(reportLike.length).toBeGreaterThan(1_000);
  });

  test('a valid message never slips through (sanity check of the checksum breaking)', () => {
    expect(parseIgmp(buildIgmp({ type: 'v2-report', group: G1 })).ok).toBe(true);
  });
});

describe('/proc parsers', () => {
  test('utime + stime from stat, with spaces and parentheses in comm', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 3166 0 0 0 17 5 0 0 20 0 11 0 1625087 1210834944 12063';
    expect(parseCpuTicks(stat)).toBe(22);
  });

  test('RssAnon from status', () => {
    const status = 'Name:\tigmpproxy\nVmRSS:\t    1480 kB\nRssAnon:\t     116 kB\nRssFile:\t    1364 kB\n';
    expect(parseStatusKb(status, 'RssAnon')).toBe(116);
    expect(parseStatusKb(status, 'RssShmem')).toBeUndefined();
  });

  test('user and kernel CPU seconds apart, from stat (100 ticks a second)', () => {
    const stat = '4242 (igmp (x) proxy) S 1 4242 4242 0 -1 4194560 300 0 0 0 250 75 0 0 20 0 1 0 100 0 0';
    expect(parseCpuSplit(stat)).toEqual({ user: 2.5, system: 0.75 });
    expect(() => parseCpuSplit('1 (x) S')).toThrow(/malformed/);
  });

  test("raw socket drops: the last column of /proc/net/raw's IGMP sockets (protocol 2) only", () => {
    const raw = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '    2: 00000000:0002 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 5125',
      '    1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 99',
      '    3: 00000000:0002 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1236 2 0000000000000000 7',
      '',
    ].join('\n');
    expect(parseRawIgmpDrops(raw)).toBe(5132);
  });
});
