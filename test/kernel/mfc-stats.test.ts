// Parsers of /proc/net/ip_mr_cache and /proc/net/ip_mr_vif, on text in the kernel's
// seq_printf formats ("%08X %08X %-3hd", " %8lu %8lu %8lu", " %2d:%-3d"; and
// "%2td %-10s %8ld %7ld  %8ld %7ld %05X %08X %08X"). The real files are read in
// forwarding.test.ts, where the parsed route must match the route the test installed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  decodeProcAddress,
  parseMfcCache,
  parseVifStats,
  readMulticastRoutingStats,
} from '../../addon/daemon/kernel/mfc-stats.ts';

const CACHE = [
  'Group    Origin   Iif     Pkts    Bytes    Wrong Oifs',
  '010101EF 0200010A 0         12     1008        3  1:1    2:4  ',
  '020101EF 0300010A -1         0        0        0',
  'garbage line',
  'ZZZZZZZZ 0200010A 0          1        1        0  1:1',
  '',
].join('\n');

const VIFS = [
  'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote',
  ' 0 ipk4up          1008      12         0       0 00008 00000003 00000000',
  ' 1 averylonginterface       0       0      1008      12 00008 00000004 00000000',
  ' x broken',
].join('\n');

describe('decodeProcAddress', () => {
  test('reads the in_addr bytes printed as a native u32', () => {
    expect(decodeProcAddress('030201EF', true)).toBe(0xef010203);
    expect(decodeProcAddress('EF010203', false)).toBe(0xef010203);
  });
  test('rejects anything but eight hex digits', () => {
    expect(decodeProcAddress('30201EF', true)).toBeUndefined();
    expect(decodeProcAddress('G30201EF', true)).toBeUndefined();
  });
});

describe('parseMfcCache', () => {
  test('resolved and unresolved entries, outputs with TTL thresholds; malformed lines skipped', () => {
    expect(parseMfcCache(CACHE, true)).toEqual([
      {
        group: 0xef010101,
        source: 0x0a010002,
        inputVif: 0,
        packets: 12,
        bytes: 1008,
        wrongInterface: 3,
        outputs: [
          { vif: 1, ttl: 1 },
          { vif: 2, ttl: 4 },
        ],
      },
      { group: 0xef010102, source: 0x0a010003, inputVif: 0xffff, packets: 0, bytes: 0, wrongInterface: 0, outputs: [] },
    ]);
  });
  test('header only or empty text gives no entries', () => {
    expect(parseMfcCache('Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n')).toEqual([]);
    expect(parseMfcCache('')).toEqual([]);
  });
});

describe('parseVifStats', () => {
  test('counters and flags per VIF, long names included', () => {
    expect(parseVifStats(VIFS)).toEqual([
      { vif: 0, name: 'ipk4up', bytesIn: 1008, packetsIn: 12, bytesOut: 0, packetsOut: 0, flags: 8 },
      { vif: 1, name: 'averylonginterface', bytesIn: 0, packetsIn: 0, bytesOut: 1008, packetsOut: 12, flags: 8 },
    ]);
  });
});

describe('readMulticastRoutingStats', () => {
  test('reads both files; missing files read as empty tables', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipk4-proc-'));
    try {
      expect(readMulticastRoutingStats(dir)).toEqual({ routes: [], vifs: [] });
      writeFileSync(path.join(dir, 'ip_mr_vif'), VIFS);
      writeFileSync(path.join(dir, 'ip_mr_cache'), CACHE);
      const stats = readMulticastRoutingStats(dir);
      expect(stats.vifs.map((entry) => entry.name)).toEqual(['ipk4up', 'averylonginterface']);
      expect(stats.routes).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
