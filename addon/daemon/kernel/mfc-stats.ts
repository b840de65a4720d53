// Counters of the kernel's multicast routes and VIFs, for status dumps:
// /proc/net/ip_mr_cache and /proc/net/ip_mr_vif of this network namespace.
// The kernel prints struct in_addr (network order) with %08X as a native u32, so on a
// little-endian machine 239.1.2.3 reads "030201EF": the hex is decoded in host order.
// Parsers skip malformed lines instead of throwing.
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Ipv4 } from '../net/ipv4.ts';

export interface MfcOutput {
  readonly vif: number;
  readonly ttl: number;
}

export interface MfcEntry {
  readonly group: Ipv4;
  readonly source: Ipv4;
  /** Input VIF; 65535 (-1 as unsigned short) for unresolved entries. */
  readonly inputVif: number;
  readonly packets: number;
  readonly bytes: number;
  readonly wrongInterface: number;
  readonly outputs: readonly MfcOutput[];
}

export interface VifStats {
  readonly vif: number;
  readonly name: string;
  readonly bytesIn: number;
  readonly packetsIn: number;
  readonly bytesOut: number;
  readonly packetsOut: number;
  readonly flags: number;
}

const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** "030201EF" -> 239.1.2.3 (on little-endian hosts). */
export function decodeProcAddress(hex: string, littleEndian = HOST_IS_LITTLE_ENDIAN): Ipv4 | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const value = Number.parseInt(hex, 16) >>> 0;
  if (!littleEndian) return value;
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

/**
 * Parses /proc/net/ip_mr_cache:
 *   Group    Origin   Iif     Pkts    Bytes    Wrong Oifs
 *   030201EF 0200010A 0          5      420        0  1:1    2:1
 */
export function parseMfcCache(text: string, littleEndian = HOST_IS_LITTLE_ENDIAN): MfcEntry[] {
  const entries: MfcEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) continue;
    const [groupHex, sourceHex, iif, packets, bytes, wrong, ...oifs] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      ...string[],
    ];
    const group = decodeProcAddress(groupHex, littleEndian);
    const source = decodeProcAddress(sourceHex, littleEndian);
    const numbers = [iif, packets, bytes, wrong].map(parseDecimal);
    if (group === undefined || source === undefined || numbers.some((n) => n === undefined)) continue;
    const outputs: MfcOutput[] = [];
    for (const oif of oifs) {
      const match = /^(\d+):(\d+)$/.exec(oif);
      if (match) outputs.push({ vif: Number(match[1]), ttl: Number(match[2]) });
    }
    const [inputVif, packetCount, byteCount, wrongCount] = numbers as number[];
    entries.push({
      group,
      source,
      inputVif: (inputVif as number) & 0xffff,
      packets: packetCount as number,
      bytes: byteCount as number,
      wrongInterface: wrongCount as number,
      outputs,
    });
  }
  return entries;
}

/**
 * Parses /proc/net/ip_mr_vif:
 *   Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote
 *    0 eth0             0       0         0       0 00008 00000003 00000000
 */
export function parseVifStats(text: string): VifStats[] {
  const result: VifStats[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7) continue;
    const [vif, name, bytesIn, packetsIn, bytesOut, packetsOut, flags] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const numbers = [vif, bytesIn, packetsIn, bytesOut, packetsOut].map(parseDecimal);
    const flagValue = /^[0-9A-Fa-f]+$/.test(flags) ? Number.parseInt(flags, 16) : undefined;
    if (numbers.some((n) => n === undefined) || flagValue === undefined) continue;
    const [vifNumber, inBytes, inPackets, outBytes, outPackets] = numbers as number[];
    result.push({
      vif: vifNumber as number,
      name,
      bytesIn: inBytes as number,
      packetsIn: inPackets as number,
      bytesOut: outBytes as number,
      packetsOut: outPackets as number,
      flags: flagValue,
    });
  }
  return result;
}

/** Reads the routes' table alone (the stall alarm's once-a-second read); missing reads as empty. */
export function readMulticastRoutes(procNet = '/proc/net'): MfcEntry[] {
  return parseMfcCache(readOrEmpty(`${procNet}/ip_mr_cache`));
}

/** Reads both tables; a missing file (no CONFIG_IP_MROUTE) reads as empty. */
export function readMulticastRoutingStats(procNet = '/proc/net'): { routes: MfcEntry[]; vifs: VifStats[] } {
  return {
    routes: parseMfcCache(readOrEmpty(`${procNet}/ip_mr_cache`)),
    vifs: parseVifStats(readOrEmpty(`${procNet}/ip_mr_vif`)),
  };
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function parseDecimal(text: string): number | undefined {
  return /^-?\d+$/.test(text) ? Number(text) : undefined;
}
