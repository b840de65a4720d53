// An independent decoder as oracle: tcpdump reads a pcap of datagrams we built and must
// find correct checksums and the fields we meant. Skipped when tcpdump is not installed
// (Debian package tcpdump). Only a file is read: no capture, no network.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIgmp } from '../../addon/daemon/igmp/codec.ts';
import { buildIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/types.ts';
import { buildV3Reports } from '../../addon/daemon/igmp/v3-reports.ts';
import { ip, sources } from './helpers.ts';

const tcpdumpAvailable = spawnSync('tcpdump', ['--version'], { timeout: 5_000 }).status === 0;

const LINKTYPE_RAW = 101;

/** A classic little-endian pcap file with raw-IP link type. */
function pcap(datagrams: readonly Uint8Array[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(0xffff, 16);
  header.writeUInt32LE(LINKTYPE_RAW, 20);
  const parts: Buffer[] = [header];
  datagrams.forEach((datagram, index) => {
    const record = Buffer.alloc(16);
    record.writeUInt32LE(index, 0); // one packet per second keeps lines in order
    record.writeUInt32LE(datagram.length, 8);
    record.writeUInt32LE(datagram.length, 12);
    parts.push(record, Buffer.from(datagram));
  });
  return Buffer.concat(parts);
}

function datagram(message: IgmpMessage, routerAlert = true): Uint8Array {
  return buildIpv4Packet({
    source: ip('192.168.1.10'),
    destination: ip('224.0.0.22'),
    ttl: 1,
    tos: 0xc0,
    protocol: 2,
    routerAlert,
    payload: buildIgmp(message),
  });
}

/** tcpdump -vv's text, one entry per packet (its header line joined with the decode line). */
function decode(datagrams: readonly Uint8Array[]): string[] {
  const directory = mkdtempSync(path.join(tmpdir(), `ipg2-igmp-${process.pid}-`));
  try {
    const file = path.join(directory, 'packets.pcap');
    writeFileSync(file, pcap(datagrams));
    const run = spawnSync('tcpdump', ['-n', '-vv', '-r', file], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status, run.stderr).toBe(0);
    return run.stdout
      .split(/\n(?=\d\d:\d\d:\d\d)/)
      .map((entry) => entry.replace(/\s+/g, ' ').trim())
      .filter((entry) => entry.length > 0);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe.skipIf(!tcpdumpAvailable)('tcpdump as an independent decoder', () => {
  it('notices bad checksums, so its silence about them means something', () => {
    const broken = datagram({ type: 'v2-report', group: ip('239.1.1.1') }).slice();
    broken[8] = 2; // TTL: IP header checksum now wrong
    broken[24 + 7] = 2; // group: IGMP checksum now wrong
    const [text] = decode([broken]);
    expect(text).toMatch(/bad cksum/);
    expect(text).toMatch(/bad igmp cksum/);
  });

  it('agrees with every message kind we build', () => {
    const cases: [IgmpMessage, RegExp][] = [
      [{ type: 'query', version: 1, maxResponseMs: 10_000, group: 0 }, /igmp query v1$/],
      [{ type: 'query', version: 2, maxResponseMs: 10_000, group: 0 }, /igmp query v2$/], // 10 s is the default, not printed
      [
        { type: 'query', version: 2, maxResponseMs: 1_000, group: ip('239.1.1.1') },
        /igmp query v2 \[max resp time 10\] \[gaddr 239\.1\.1\.1\]$/,
      ],
      [
        {
          type: 'query',
          version: 3,
          maxResponseMs: 12_800,
          group: ip('232.1.1.1'),
          v3: {
            suppressRouterSide: true,
            robustness: 2,
            queryIntervalSeconds: 125,
            sources: [ip('10.0.0.1'), ip('10.0.0.2')],
          },
        },
        /igmp query v3 \[max resp time 12\.8s\] \[gaddr 232\.1\.1\.1 \{ 10\.0\.0\.1 10\.0\.0\.2 \}\]$/,
      ],
      [{ type: 'v1-report', group: ip('239.1.1.1') }, /igmp v1 report 239\.1\.1\.1$/],
      [{ type: 'v2-report', group: ip('239.35.10.1') }, /igmp v2 report 239\.35\.10\.1$/],
      [{ type: 'v2-leave', group: ip('239.35.10.1') }, /igmp leave 239\.35\.10\.1$/],
      [
        {
          type: 'v3-report',
          records: [
            { recordType: 'is-include', group: ip('232.1.1.1'), sources: [ip('10.0.0.1')] },
            { recordType: 'is-exclude', group: ip('239.1.1.2'), sources: [] },
            { recordType: 'to-include', group: ip('232.1.1.3'), sources: [ip('10.0.0.3'), ip('10.0.0.4')] },
            { recordType: 'to-exclude', group: ip('239.1.1.4'), sources: [] },
            { recordType: 'allow', group: ip('232.1.1.5'), sources: [ip('10.0.0.5')] },
            { recordType: 'block', group: ip('232.1.1.6'), sources: [ip('10.0.0.6')] },
          ],
        },
        new RegExp(
          'igmp v3 report, 6 group record\\(s\\) \\[gaddr 232\\.1\\.1\\.1 is_in \\{ 10\\.0\\.0\\.1 \\}\\] ' +
            '\\[gaddr 239\\.1\\.1\\.2 is_ex \\{ \\}\\] \\[gaddr 232\\.1\\.1\\.3 to_in \\{ 10\\.0\\.0\\.3 10\\.0\\.0\\.4 \\}\\] ' +
            '\\[gaddr 239\\.1\\.1\\.4 to_ex \\{ \\}\\] \\[gaddr 232\\.1\\.1\\.5 allow \\{ 10\\.0\\.0\\.5 \\}\\] ' +
            '\\[gaddr 232\\.1\\.1\\.6 block \\{ 10\\.0\\.0\\.6 \\}\\]$',
        ),
      ],
    ];
    const texts = decode(cases.map(([message], index) => datagram(message, index % 2 === 0)));
    expect(texts).toHaveLength(cases.length);
    cases.forEach(([, expected], index) => {
      const text = texts[index]!;
      expect(text).not.toMatch(/bad/);
      expect(text).toMatch(/IP \(tos 0xc0, ttl 1, id 0, offset 0, flags \[none\], proto IGMP \(2\)/);
      expect(text).toMatch(index % 2 === 0 ? /options \(RA\)/ : /^(?!.*options)/);
      expect(text).toMatch(/192\.168\.1\.10 > 224\.0\.0\.22: /);
      expect(text).toMatch(expected);
    });
  });

  it('reads split v3 reports as well-formed, with the record counts we planned', () => {
    const records = Array.from({ length: 300 }, (_, index) => ({
      recordType: 'is-exclude' as const,
      group: ip('239.0.0.0') + index,
      sources: index === 0 ? sources(500) : [],
    }));
    const payloads = buildV3Reports(records, 1500 - 24);
    const texts = decode(
      payloads.map((payload) =>
        buildIpv4Packet({
          source: ip('192.168.1.10'),
          destination: ip('224.0.0.22'),
          ttl: 1,
          tos: 0xc0,
          protocol: 2,
          routerAlert: true,
          payload,
        }),
      ),
    );
    expect(texts).toHaveLength(payloads.length);
    let total = 0;
    texts.forEach((text, index) => {
      expect(text).not.toMatch(/bad|truncated|\|/);
      expect(text).toMatch(new RegExp(`length ${payloads[index]!.length + 24},`));
      total += Number(/igmp v3 report, (\d+) group record/.exec(text)?.[1]);
    });
    expect(total).toBe(300);
  });
});
