// The kernel's reverse-path filter (rp_filter), as rules both the daemon (which switches an
// upstream to loose mode) and `igmpproxy diagnose` (which judges it) apply. Pure: the
// sysctl values and the route lookups are read by the caller. Here, and not in runtime/
// or diagnose/, because these are facts about Linux, not decisions of either.
//
// Linux drops a packet, multicast included, when rp_filter is strict (1) and the route back
// to its source leaves by another interface than the one it arrived on. Loose mode (2) only
// asks that the source be routable at all; 0 checks nothing. The kernel uses
// max(conf/all, conf/IFACE).
import type { Cidr, Ipv4 } from './ipv4.ts';

export const RP_FILTER_OFF = 0;
export const RP_FILTER_STRICT = 1;
export const RP_FILTER_LOOSE = 2;

/** The value the kernel applies on an interface. */
export function effectiveRpFilter(all: number, own: number): number {
  return Math.max(all, own);
}

/**
 * The address asked for in the route lookup of an altnet: its first host address (the
 * network itself for /31 and /32). For 0.0.0.0/0 that is 0.0.0.1, which follows the default
 * route: "any source" is judged by where the default route goes.
 */
export function probeAddress(altnet: Cidr): Ipv4 {
  return altnet.prefixLength >= 31 ? altnet.network : (altnet.network + 1) >>> 0;
}

/**
 * Whether the check in force (`effective`) drops a packet that arrived on `arrivedOn` from a
 * source whose route back leaves by `routeBackVia` (undefined: there is none). Interfaces are
 * compared as given: by ifindex in the daemon, by name in diagnose.
 */
export function reversePathDrops<Interface>(
  effective: number,
  arrivedOn: Interface,
  routeBackVia: Interface | undefined,
): boolean {
  if (effective === RP_FILTER_STRICT) return routeBackVia !== arrivedOn;
  if (effective === RP_FILTER_LOOSE) return routeBackVia === undefined;
  return false;
}
