import { describe, expect, it } from 'vitest';
import { writeChecksum } from '../../addon/daemon/igmp/checksum.ts';
import { buildIpv4Packet, parseIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import type { Ipv4Packet } from '../../addon/daemon/igmp/types.ts';
import { atOffset, fromHex, ip, toHex } from './helpers.ts';

// IGMPv2 report for 239.1.1.1 from 192.168.1.10, TTL 1, TOS 0xc0, Router Alert.
// Header words: 46c0 0020 0000 0000 0102 [cksum] c0a8 010a ef01 0101 9404 0000;
// their sum 0x28d9a folds to 0x8d9c, so the checksum is 0x7263.
// IGMP: 16 00 [cksum] ef010101; 0x1600 + 0xef01 + 0x0101 = 0x10602 -> 0x0603 -> f9fc.
const REPORT_DATAGRAM = '46c0 0020 0000 0000 0102 7263 c0a8010a ef010101 94040000' + '1600 f9fc ef010101';
const REPORT_PACKET: Ipv4Packet = {
  source: ip('192.168.1.10'),
  destination: ip('239.1.1.1'),
  ttl: 1,
  tos: 0xc0,
  protocol: 2,
  routerAlert: true,
  payload: fromHex('1600 f9fc ef010101'),
};

/** A minimal header (IHL from the options length) around an 8-byte payload, checksum fixed. */
function datagramWithOptions(optionsHex: string, fixChecksum = true): Uint8Array {
  const options = fromHex(optionsHex);
  const headerBytes = 20 + options.length;
  const bytes = new Uint8Array(headerBytes + 8);
  bytes.set(fromHex('4500 0000 0000 0000 0102 0000 0a000001 e0000001'));
  bytes[0] = 0x40 | (headerBytes / 4);
  bytes[2] = bytes.length >> 8;
  bytes[3] = bytes.length & 0xff;
  bytes.set(options, 20);
  bytes.set(fromHex('1164 ee9b 00000000'), headerBytes);
  if (fixChecksum) writeChecksum(bytes, 10, 0, headerBytes);
  return bytes;
}

describe('buildIpv4Packet', () => {
  it('produces the hand-computed bytes of a Router Alert datagram', () => {
    expect(toHex(buildIpv4Packet(REPORT_PACKET))).toBe(REPORT_DATAGRAM.replace(/\s/g, ''));
  });

  it('uses IHL 5 without Router Alert and still checksums the header', () => {
    // 4500 001c 0000 0000 0102 [c] 0a000001 e0000001: sum 0x4500+0x1c+0x0102+0x0a00+0x0001+0xe000+0x0001
    // = 0x13020 -> 0x3021 -> checksum cfde.
    const bytes = buildIpv4Packet({
      source: ip('10.0.0.1'),
      destination: ip('224.0.0.1'),
      ttl: 1,
      tos: 0,
      protocol: 2,
      routerAlert: false,
      payload: fromHex('1164 ee9b 00000000'),
    });
    expect(toHex(bytes)).toBe('4500001c000000000102cfde0a000001e00000011164ee9b00000000');
  });

  it('throws RangeError for fields that do not fit', () => {
    expect(() => buildIpv4Packet({ ...REPORT_PACKET, ttl: 256 })).toThrow(RangeError);
    expect(() => buildIpv4Packet({ ...REPORT_PACKET, source: -1 })).toThrow(RangeError);
    expect(() => buildIpv4Packet({ ...REPORT_PACKET, payload: new Uint8Array(65536 - 24) })).toThrow(RangeError);
    expect(buildIpv4Packet({ ...REPORT_PACKET, payload: new Uint8Array(65535 - 24) }).length).toBe(65535);
  });
});

describe('parseIpv4Packet', () => {
  it('parses the hand-computed datagram', () => {
    const parsed = parseIpv4Packet(fromHex(REPORT_DATAGRAM));
    expect(parsed).toEqual({ ok: true, value: REPORT_PACKET });
  });

  it('reads through a Buffer at a non-zero byte offset and returns a copied payload', () => {
    const input = atOffset(fromHex(REPORT_DATAGRAM));
    const parsed = parseIpv4Packet(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    expect(parsed.ok && parsed.value.source).toBe(ip('192.168.1.10'));
    input[24] = 0x99; // reuse of the receive buffer must not change the parsed payload
    expect(parsed.ok && toHex(parsed.value.payload)).toBe('1600f9fcef010101');
  });

  it('cuts a buffer longer than the total length', () => {
    const longer = new Uint8Array(100);
    longer.set(fromHex(REPORT_DATAGRAM));
    const parsed = parseIpv4Packet(longer);
    expect(parsed.ok && toHex(parsed.value.payload)).toBe('1600f9fcef010101');
  });

  it('round-trips built packets with and without Router Alert', () => {
    for (const routerAlert of [true, false]) {
      const packet: Ipv4Packet = {
        ...REPORT_PACKET,
        routerAlert,
        ttl: 64,
        tos: 0x10,
        payload: new Uint8Array([1, 2, 3]),
      };
      expect(parseIpv4Packet(buildIpv4Packet(packet))).toEqual({ ok: true, value: packet });
    }
  });

  it('skips NOP, unknown options and stops at End of List', () => {
    // NOP, record-route-like 0x07 len 7, RA, EOL, padding garbage after EOL is ignored.
    const parsed = parseIpv4Packet(datagramWithOptions('01 07 07 04 00 00 00 00 94 04 00 00 00 ff ff ff'));
    expect(parsed.ok && parsed.value.routerAlert).toBe(true);
  });

  it('does not count a Router Alert with a reserved value, nor options after EOL', () => {
    const reserved = parseIpv4Packet(datagramWithOptions('94 04 00 01'));
    expect(reserved.ok).toBe(true);
    expect(reserved.ok && reserved.value.routerAlert).toBe(false);
    const afterEol = parseIpv4Packet(datagramWithOptions('00 00 00 00 94 04 00 00'));
    expect(afterEol.ok && afterEol.value.routerAlert).toBe(false);
  });

  const rejections: [string, () => Uint8Array, RegExp][] = [
    ['an empty buffer', () => new Uint8Array(0), /truncated/],
    ['19 bytes', () => fromHex(REPORT_DATAGRAM).subarray(0, 19), /truncated/],
    ['IP version 6', () => withByte(fromHex(REPORT_DATAGRAM), 0, 0x66), /version 6/],
    ['IHL 4', () => withByte(fromHex(REPORT_DATAGRAM), 0, 0x44), /IHL 4 below 5/],
    ['IHL beyond the buffer', () => withByte(fromHex(REPORT_DATAGRAM).subarray(0, 24), 0, 0x4f), /longer than/],
    ['total length below the header', () => withWord(fromHex(REPORT_DATAGRAM), 2, 20), /below header/],
    ['total length beyond the buffer', () => withWord(fromHex(REPORT_DATAGRAM), 2, 33), /exceeds/],
    ['a truncated datagram', () => fromHex(REPORT_DATAGRAM).subarray(0, 31), /exceeds/],
    ['a header checksum mismatch', () => withByte(fromHex(REPORT_DATAGRAM), 8, 2, false), /checksum/],
    ['a fragment (MF)', () => withWord(fromHex(REPORT_DATAGRAM), 6, 0x2000), /fragment/],
    ['a fragment (offset)', () => withWord(fromHex(REPORT_DATAGRAM), 6, 0x0001), /fragment/],
    ['an option without length byte', () => datagramWithOptions('01 01 01 07'), /no length/],
    ['an option of length 0', () => datagramWithOptions('07 00 00 00'), /length 0/],
    ['an option of length 1', () => datagramWithOptions('07 01 00 00'), /length 1/],
    ['an option overrunning the header', () => datagramWithOptions('07 08 00 00'), /overruns/],
    ['a Router Alert of length 6', () => datagramWithOptions('94 06 00 00 00 00 00 00'), /Router Alert/],
    ['a Router Alert of length 2', () => datagramWithOptions('94 02 00 00'), /Router Alert/],
  ];
  for (const [what, make, reason] of rejections) {
    it(`rejects ${what}`, () => {
      const parsed = parseIpv4Packet(make());
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    });
  }
});

/** Sets a byte and (by default) repairs the header checksum, so only the intended defect remains. */
function withByte(bytes: Uint8Array, offset: number, value: number, repair = true): Uint8Array {
  bytes[offset] = value;
  if (repair) repairChecksum(bytes);
  return bytes;
}

function withWord(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  bytes[offset] = value >> 8;
  bytes[offset + 1] = value & 0xff;
  repairChecksum(bytes);
  return bytes;
}

function repairChecksum(bytes: Uint8Array): void {
  const headerBytes = Math.min((bytes[0]! & 0x0f) * 4, bytes.length);
  if (headerBytes >= 12) writeChecksum(bytes, 10, 0, headerBytes);
}
