import { describe, expect, it } from 'vitest';
import { buildIgmp } from '../../addon/daemon/igmp/codec.ts';
import { buildIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import { classifyRawDatagram, parseUpcall } from '../../addon/daemon/igmp/upcall.ts';
import { atOffset, fromHex, ip } from './helpers.ts';

// What ipmr_cache_report() hands a NOCACHE upcall: the data packet's IP header with
// protocol (im_mbz) 0, TTL byte replaced by im_msgtype and the checksum bytes by the vif,
// followed by an 8-byte igmphdr whose type repeats the message type.
//   4500 001c | 0000 4000 | 01=NOCACHE 00=mbz | 03 00 = vif 3 | 0a000005 | e8010101 | 01 00 0000 00000000
const NOCACHE = '4500 001c 0000 4000 01 00 03 00 0a000005 e8010101 0100 0000 00000000';

describe('parseUpcall (struct igmpmsg)', () => {
  it('reads a NOCACHE upcall', () => {
    expect(parseUpcall(fromHex(NOCACHE))).toEqual({
      ok: true,
      value: { kind: 'nocache', vif: 3, source: ip('10.0.0.5'), group: ip('232.1.1.1') },
    });
  });

  it('reads every message type and the high vif byte', () => {
    const kinds = ['nocache', 'wrongvif', 'wholepkt', 'wrvifwhole'] as const;
    kinds.forEach((kind, index) => {
      const bytes = fromHex(NOCACHE);
      bytes[8] = index + 1;
      bytes[10] = 0x34;
      bytes[11] = 0x12;
      const parsed = parseUpcall(bytes);
      expect(parsed).toEqual({
        ok: true,
        value: { kind, vif: 0x1234, source: ip('10.0.0.5'), group: ip('232.1.1.1') },
      });
    });
  });

  it('needs only the 20-byte igmpmsg and ignores what follows (WHOLEPKT)', () => {
    const parsed = parseUpcall(fromHex(NOCACHE).subarray(0, 20));
    expect(parsed.ok).toBe(true);
  });

  it('rejects truncation, a non-zero im_mbz and unknown types', () => {
    expect(parseUpcall(fromHex(NOCACHE).subarray(0, 19))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/truncated/),
    });
    const mbz = fromHex(NOCACHE);
    mbz[9] = 2;
    expect(parseUpcall(mbz)).toMatchObject({ ok: false, reason: expect.stringMatching(/im_mbz/) });
    for (const type of [0, 5, 255]) {
      const bytes = fromHex(NOCACHE);
      bytes[8] = type;
      expect(parseUpcall(bytes)).toMatchObject({ ok: false, reason: `unknown kernel upcall type ${type}` });
    }
  });
});

describe('classifyRawDatagram', () => {
  const report = buildIpv4Packet({
    source: ip('192.168.1.10'),
    destination: ip('239.1.1.1'),
    ttl: 1,
    tos: 0xc0,
    protocol: 2,
    routerAlert: true,
    payload: buildIgmp({ type: 'v2-report', group: ip('239.1.1.1') }),
  });

  it('routes protocol 0 to the upcall parser without an IP checksum check', () => {
    const view = atOffset(fromHex(NOCACHE));
    const parsed = classifyRawDatagram(Buffer.from(view.buffer, view.byteOffset, view.byteLength));
    expect(parsed).toEqual({
      ok: true,
      value: { kind: 'upcall', upcall: { kind: 'nocache', vif: 3, source: ip('10.0.0.5'), group: ip('232.1.1.1') } },
    });
  });

  it('routes protocol 2 to IPv4 + IGMP', () => {
    const parsed = classifyRawDatagram(report);
    expect(parsed.ok && parsed.value.kind === 'igmp' && parsed.value.message).toEqual({
      type: 'v2-report',
      group: ip('239.1.1.1'),
    });
    expect(parsed.ok && parsed.value.kind === 'igmp' && parsed.value.packet.routerAlert).toBe(true);
  });

  it('passes on IPv4 and IGMP rejections', () => {
    const badIp = report.slice();
    badIp[8] = 2; // TTL changed, header checksum now wrong
    expect(classifyRawDatagram(badIp)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/IPv4 header checksum/),
    });
    const badIgmp = report.slice();
    badIgmp[24 + 7] = 0x11; // group 239.1.1.1 -> 239.1.1.17, IGMP checksum now wrong
    expect(classifyRawDatagram(badIgmp)).toMatchObject({ ok: false, reason: 'IGMP checksum mismatch' });
  });

  it('rejects other protocols and stubs', () => {
    const udp = report.slice();
    udp[9] = 17;
    expect(classifyRawDatagram(udp)).toMatchObject({ ok: false, reason: 'not IGMP: IP protocol 17' });
    expect(classifyRawDatagram(new Uint8Array(9))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/truncated/),
    });
    expect(classifyRawDatagram(new Uint8Array(12))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/upcall truncated/),
    });
  });
});
