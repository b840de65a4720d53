// Property tests with a seeded PRNG: random and mutated datagrams never make the parsers
// throw or stall, and whatever they accept rebuilds to bytes that parse to the same value.
import { describe, expect, it } from 'vitest';
import { writeChecksum } from '../../addon/daemon/igmp/checksum.ts';
import { buildIgmp, parseIgmp } from '../../addon/daemon/igmp/codec.ts';
import { buildIpv4Packet, parseIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/types.ts';
import { classifyRawDatagram } from '../../addon/daemon/igmp/upcall.ts';
import { fromHex, ip, mulberry32, randomBytes, randomInt, sources } from './helpers.ts';

const SEED_MESSAGES: IgmpMessage[] = [
  { type: 'query', version: 1, maxResponseMs: 10_000, group: 0 },
  { type: 'query', version: 2, maxResponseMs: 10_000, group: ip('239.1.1.1') },
  {
    type: 'query',
    version: 3,
    maxResponseMs: 12_800,
    group: ip('232.1.1.1'),
    v3: { suppressRouterSide: true, robustness: 2, queryIntervalSeconds: 125, sources: sources(5) },
  },
  { type: 'v1-report', group: ip('224.2.2.2') },
  { type: 'v2-report', group: ip('239.35.10.1') },
  { type: 'v2-leave', group: ip('239.35.10.1') },
  {
    type: 'v3-report',
    records: [
      { recordType: 'to-exclude', group: ip('239.1.1.1'), sources: [] },
      { recordType: 'allow', group: ip('232.1.1.1'), sources: sources(3) },
      { recordType: 'block', group: ip('232.1.1.2'), sources: sources(2, 0x0b000001) },
    ],
  },
];

const SEED_DATAGRAMS: Uint8Array[] = [
  ...SEED_MESSAGES.map((message, index) =>
    buildIpv4Packet({
      source: ip('192.168.1.10'),
      destination: ip('224.0.0.22'),
      ttl: 1,
      tos: 0xc0,
      protocol: 2,
      routerAlert: index % 2 === 0,
      payload: buildIgmp(message),
    }),
  ),
  fromHex('4500 001c 0000 4000 01 00 03 00 0a000005 e8010101 0100 0000 00000000'), // NOCACHE upcall
];

function mutate(random: () => number, original: Uint8Array): Uint8Array {
  let bytes = original.slice();
  const rounds = 1 + randomInt(random, 3);
  for (let round = 0; round < rounds; round++) {
    switch (randomInt(random, 6)) {
      case 0: // bit flip
        if (bytes.length > 0) bytes[randomInt(random, bytes.length)]! ^= 1 << randomInt(random, 8);
        break;
      case 1: // truncation
        bytes = bytes.slice(0, randomInt(random, bytes.length + 1));
        break;
      case 2: {
        // extension with random bytes
        const longer = new Uint8Array(bytes.length + 1 + randomInt(random, 40));
        longer.set(bytes);
        longer.set(randomBytes(random, longer.length - bytes.length), bytes.length);
        bytes = longer;
        break;
      }
      case 3: // random byte
        if (bytes.length > 0) bytes[randomInt(random, bytes.length)] = randomInt(random, 256);
        break;
      case 4: {
        // a lying 16-bit field, where counts and lengths live
        const at = randomInt(random, Math.max(1, bytes.length - 1));
        if (at + 1 < bytes.length) {
          const value = random() < 0.5 ? 0xffff : randomInt(random, 64);
          bytes[at] = value >> 8;
          bytes[at + 1] = value & 0xff;
        }
        break;
      }
      default: // a small IGMP type/code change
        if (bytes.length > 25) bytes[randomInt(random, 2) + (bytes[0]! & 0x0f) * 4]! ^= 1 << randomInt(random, 8);
    }
  }
  return bytes;
}

/** Makes the IP and IGMP checksums right again half of the time, to reach deeper code. */
function maybeRepairChecksums(random: () => number, bytes: Uint8Array): void {
  if (random() < 0.5 || bytes.length < 20) return;
  const headerBytes = (bytes[0]! & 0x0f) * 4;
  if (headerBytes >= 20 && headerBytes <= bytes.length) {
    if (bytes[9] === 2) {
      const totalLength = Math.min((bytes[2]! << 8) | bytes[3]!, bytes.length);
      if (totalLength >= headerBytes + 4) writeChecksum(bytes, headerBytes + 2, headerBytes, totalLength);
    }
    writeChecksum(bytes, 10, 0, headerBytes);
  }
}

/** Checks the contract on one input: no throw, a reason on rejection, a stable rebuild on acceptance. */
function checkDatagram(bytes: Uint8Array): 'upcall' | 'igmp' | 'rejected' {
  const result = classifyRawDatagram(bytes);
  if (!result.ok) {
    expect(result.reason.length).toBeGreaterThan(0);
    return 'rejected';
  }
  if (result.value.kind === 'upcall') return 'upcall';
  const { packet, message } = result.value;
  const rebuiltPayload = buildIgmp(message);
  expect(parseIgmp(rebuiltPayload)).toEqual({ ok: true, value: message });
  expect(parseIpv4Packet(buildIpv4Packet(packet))).toEqual({ ok: true, value: packet });
  const rebuiltDatagram = buildIpv4Packet({ ...packet, payload: rebuiltPayload });
  expect(classifyRawDatagram(rebuiltDatagram)).toEqual({
    ok: true,
    value: { kind: 'igmp', packet: { ...packet, payload: rebuiltPayload }, message },
  });
  return 'igmp';
}

describe('codec fuzzing', () => {
  it('survives mutations of valid datagrams', () => {
    const random = mulberry32(20240601);
    const counts = { upcall: 0, igmp: 0, rejected: 0 };
    const started = performance.now();
    for (let iteration = 0; iteration < 20_000; iteration++) {
      const seed = SEED_DATAGRAMS[randomInt(random, SEED_DATAGRAMS.length)]!;
      const bytes = mutate(random, seed);
      maybeRepairChecksums(random, bytes);
      counts[checkDatagram(bytes)]++;
    }
    // The mutations must exercise acceptance as well as rejection, or the test proves little.
    expect(counts.igmp).toBeGreaterThan(1_000);
    expect(counts.upcall).toBeGreaterThan(100);
    expect(counts.rejected).toBeGreaterThan(1_000);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('survives random buffers', () => {
    const random = mulberry32(7);
    const started = performance.now();
    let accepted = 0;
    for (let iteration = 0; iteration < 20_000; iteration++) {
      const bytes = randomBytes(random, randomInt(random, 80));
      if (bytes.length > 9 && random() < 0.7) bytes[9] = random() < 0.5 ? 0 : 2;
      if (bytes.length > 0 && random() < 0.7) bytes[0] = 0x45 + randomInt(random, 3);
      if (bytes.length >= 4 && random() < 0.7) {
        bytes[2] = 0;
        bytes[3] = Math.min(bytes.length, 20 + randomInt(random, 60));
      }
      maybeRepairChecksums(random, bytes);
      if (checkDatagram(bytes) !== 'rejected') accepted++;
    }
    expect(accepted).toBeGreaterThan(20); // mostly upcalls: random IGMP rarely has a known type
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('parses random IGMP payloads with valid checksums without throwing', () => {
    const random = mulberry32(99);
    const types = [0x11, 0x12, 0x16, 0x17, 0x22, 0x13, 0x00];
    const seen = new Set<string>();
    for (let iteration = 0; iteration < 20_000; iteration++) {
      const bytes = randomBytes(random, randomInt(random, 64));
      if (bytes.length > 0) bytes[0] = types[randomInt(random, types.length)]!;
      if (bytes.length > 7 && random() < 0.8) bytes[6] = 0; // plausible record counts
      if (bytes.length > 11 && random() < 0.8) bytes[10] = 0; // plausible source counts
      if (bytes.length >= 4) writeChecksum(bytes, 2);
      const parsed = parseIgmp(bytes);
      if (!parsed.ok) {
        seen.add(parsed.reason.replace(/[0-9]+/g, 'N'));
        continue;
      }
      seen.add(parsed.value.type);
      expect(parseIgmp(buildIgmp(parsed.value))).toEqual(parsed);
    }
    for (const kind of ['query', 'v1-report', 'v2-report', 'v2-leave', 'v3-report']) expect(seen).toContain(kind);
  });

  it('rejects a maximal lying v3 report quickly', () => {
    const bytes = new Uint8Array(65_000);
    bytes.set(fromHex('2200 0000 0000 1fbc')); // 8124 records: as many as 65000 bytes could hold
    // Records claiming 0xffff sources and 255 aux words each: the first overruns.
    for (let offset = 8; offset + 8 <= bytes.length; offset += 8) bytes.set(fromHex('01 ff ffff'), offset);
    writeChecksum(bytes, 2);
    const started = performance.now();
    const parsed = parseIgmp(bytes);
    expect(parsed).toMatchObject({ ok: false, reason: expect.stringMatching(/overruns/) });
    expect(performance.now() - started).toBeLessThan(100);
  });
});
