// Deterministic malformed IGMP payloads for robustness tests (the "10,000 malformed
// packets" test): the same seed always gives the same bytes, and every payload is
// rejected by the project's own IGMP parser -- a payload that happens to parse (a random
// checksum can match) gets its checksum broken, so "malformed" holds by construction.
import { parseIgmp } from '../../addon/daemon/igmp/index.ts';
import { mulberry32 } from './prng.ts';

/** The tests' one seeded PRNG (test/helpers/prng.ts). */
export const seededRandom = mulberry32;

const TYPES = [0x11, 0x12, 0x16, 0x17, 0x22] as const;

/** The kinds of damage, each a plausible bug in a sender or an attacker's probe. */
const MUTATIONS = [
  'random',
  'truncated',
  'bad-checksum',
  'record-count-overrun',
  'source-count-overrun',
  'unknown-type',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface MalformedPayload {
  readonly mutation: Mutation;
  readonly bytes: Buffer;
}

export function malformedIgmpPayloads(count: number, seed: number): MalformedPayload[] {
  if (!Number.isInteger(count) || count < 0 || count > 1_000_000)
    throw new RangeError(`count ${count} outside 0..1000000`);
  const random = seededRandom(seed);
  const integer = (limit: number): number => Math.floor(random() * limit);
  const result: MalformedPayload[] = [];
  for (let index = 0; index < count; index++) {
    const mutation = MUTATIONS[integer(MUTATIONS.length)] as Mutation;
    const bytes = build(mutation, integer, random);
    if (parseIgmp(bytes).ok) breakChecksum(bytes);
    result.push({ mutation, bytes });
  }
  return result;
}

function build(mutation: Mutation, integer: (limit: number) => number, random: () => number): Buffer {
  const group = 0xef000000 + integer(0x00ffffff);
  switch (mutation) {
    case 'random':
      return Buffer.from(Array.from({ length: integer(64) }, () => integer(256)));
    case 'truncated':
      return withChecksum(
        Buffer.from([TYPES[integer(TYPES.length)] as number, 0, 0, 0, 0, 0, 0, 0].slice(0, integer(8))),
      );
    case 'bad-checksum': {
      const bytes = Buffer.alloc(8);
      bytes[0] = TYPES[integer(TYPES.length)] as number;
      bytes.writeUInt32BE(group, 4);
      withChecksum(bytes);
      breakChecksum(bytes);
      return bytes;
    }
    case 'record-count-overrun': {
      // A v3 report claiming many records but carrying at most one.
      const bytes = Buffer.alloc(8 + (random() < 0.5 ? 8 : 0));
      bytes[0] = 0x22;
      bytes.writeUInt16BE(2 + integer(0xfffd), 6);
      if (bytes.length > 8) {
        bytes[8] = 1 + integer(6);
        bytes.writeUInt32BE(group, 12);
      }
      return withChecksum(bytes);
    }
    case 'source-count-overrun': {
      // One v3 record (or a v3 query) claiming more sources than the datagram holds.
      const query = random() < 0.3;
      const bytes = Buffer.alloc(query ? 12 : 16);
      if (query) {
        bytes[0] = 0x11;
        bytes.writeUInt32BE(group, 4);
        bytes.writeUInt16BE(1 + integer(0xfffe), 10);
      } else {
        bytes[0] = 0x22;
        bytes.writeUInt16BE(1, 6);
        bytes[8] = 1 + integer(6);
        bytes.writeUInt16BE(1 + integer(0xfffe), 10);
        bytes.writeUInt32BE(group, 12);
      }
      return withChecksum(bytes);
    }
    case 'unknown-type': {
      const known = new Set<number>(TYPES);
      let type = integer(256);
      while (known.has(type)) type = (type + 1) & 0xff;
      const bytes = Buffer.alloc(8 + 4 * integer(4));
      bytes[0] = type;
      bytes.writeUInt32BE(group, 4);
      return withChecksum(bytes);
    }
  }
}

function onesComplement16(bytes: Buffer): number {
  let sum = 0;
  for (let offset = 0; offset < bytes.length; offset += 2)
    sum += ((bytes[offset] as number) << 8) | (bytes[offset + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function withChecksum(bytes: Buffer): Buffer {
  if (bytes.length < 4) return bytes;
  bytes.writeUInt16BE(0, 2);
  bytes.writeUInt16BE(~onesComplement16(bytes) & 0xffff, 2);
  return bytes;
}

function breakChecksum(bytes: Buffer): void {
  if (bytes.length >= 4) bytes.writeUInt16BE(bytes.readUInt16BE(2) ^ 0x5a5a, 2);
  else if (bytes.length > 0) bytes[0] = (bytes[0] as number) ^ 0xff;
}
