// Which interface the kernel would send a packet to an address out of, from the main IPv4
// routing table (/proc/net/route), and what the reverse-path filter makes of a stream
// arriving on an upstream. Pure: the reader is one readFileSync in gather.ts.
//
// The kernel's rp_filter check looks the stream's SOURCE up as if it sent a packet there:
// strict mode (1) drops the stream unless that route leaves through the interface it came
// in on; loose mode (2) only needs some route; 0 checks nothing. The value in force is the
// larger of net.ipv4.conf.all.rp_filter and the interface's own.
// Limits: policy routing rules and tables other than main are not considered.
import { decodeProcAddress } from '../kernel/mfc-stats.ts';
import type { Ipv4 } from '../net/ipv4.ts';

export interface KernelRoute {
  readonly interface: string;
  readonly destination: Ipv4;
  readonly mask: Ipv4;
  readonly metric: number;
}

const RTF_UP = 0x1;

/**
 * Parses /proc/net/route:
 *   Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
 *   eth0  00000000    0100000A 0003 0 0 0 00000000 0 0 0
 * Routes that are not up and malformed lines are skipped.
 */
export function parseRouteTable(text: string, littleEndian?: boolean): KernelRoute[] {
  const routes: KernelRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const [name, destinationHex, , flagsHex, , , metricText, maskHex] = fields as string[];
    const destination = decodeProcAddress(destinationHex as string, littleEndian);
    const mask = decodeProcAddress(maskHex as string, littleEndian);
    const flags = Number.parseInt(flagsHex as string, 16);
    const metric = Number(metricText);
    if (destination === undefined || mask === undefined || !Number.isInteger(flags) || !Number.isInteger(metric)) continue;
    if ((flags & RTF_UP) === 0) continue;
    routes.push({ interface: name as string, destination, mask, metric });
  }
  return routes;
}

function prefixLength(mask: Ipv4): number {
  let bits = 0;
  for (let value = mask >>> 0; value & 0x80000000; value = (value << 1) >>> 0) bits++;
  return bits;
}

/** The interface of the best route to `address` (longest prefix, then lowest metric); undefined: no route. */
export function routeOut(routes: readonly KernelRoute[], address: Ipv4): string | undefined {
  let best: { route: KernelRoute; length: number } | undefined;
  for (const route of routes) {
    if (((address & route.mask) >>> 0) !== ((route.destination & route.mask) >>> 0)) continue;
    const length = prefixLength(route.mask);
    if (best === undefined || length > best.length || (length === best.length && route.metric < best.route.metric)) {
      best = { route, length };
    }
  }
  return best?.route.interface;
}

export interface ReversePathVerdict {
  /** The value in force: max(all, interface). */
  readonly mode: number;
  /** Sources the kernel drops on this upstream (their labels), with where their route goes instead. */
  readonly dropped: readonly { readonly source: string; readonly routesVia: string | undefined }[];
}

/** A source to check: an address, and how to name it (an altnet by its network). */
export interface SourceToCheck {
  readonly address: Ipv4;
  readonly label: string;
}

/** What rp_filter does to streams from `sources` arriving on `upstream`. */
export function reversePathVerdict(input: {
  upstream: string;
  all: number;
  own: number;
  routes: readonly KernelRoute[];
  sources: readonly SourceToCheck[];
}): ReversePathVerdict {
  const mode = Math.max(input.all, input.own);
  const dropped: { source: string; routesVia: string | undefined }[] = [];
  if (mode === 1 || mode === 2) {
    for (const source of input.sources) {
      const via = routeOut(input.routes, source.address);
      if (via === undefined || (mode === 1 && via !== input.upstream)) dropped.push({ source: source.label, routesVia: via });
    }
  }
  return { mode, dropped };
}
