// Reverse-path filtering and IPTV upstreams: which upstream the daemon must switch to loose
// mode, and why, and whether it may put a switched value back. Pure: the route lookups and
// sysctl values are read by the caller; the kernel's own rules are in net/reverse-path.ts.
//
// IPFire sets conf/all and conf/default to 1. On a Telekom legacy line the streams arrive on
// red0.8 while the default route (and so the route back to the altnet sources) is ppp0:
// every packet is dropped before multicast routing sees it. The per-interface value 2 is
// enough even with conf/all = 1.
import { formatCidr, formatIpv4 } from '../net/ipv4.ts';
import type { Cidr, Ipv4 } from '../net/ipv4.ts';
import {
  effectiveRpFilter,
  reversePathDrops,
  RP_FILTER_LOOSE,
  RP_FILTER_OFF,
  RP_FILTER_STRICT,
} from '../net/reverse-path.ts';

/** What the kernel answered for the route back to one altnet's probe address. */
export interface RouteBack {
  readonly altnet: Cidr;
  readonly probe: Ipv4;
  /** ifindex of the interface the route leaves by; undefined when there is no route. */
  readonly outIfindex: number | undefined;
  /** Its name, for the log (undefined when unknown or no route). */
  readonly outName?: string | undefined;
}

export interface UpstreamFacts {
  readonly name: string;
  readonly ifindex: number;
  /** conf/all/rp_filter */
  readonly all: number;
  /** conf/<name>/rp_filter */
  readonly own: number;
  readonly routes: readonly RouteBack[];
}

export type RpFilterDecision =
  | { readonly action: 'keep'; readonly reason: string }
  | { readonly action: 'loosen'; readonly previous: number; readonly reason: string };

/**
 * Loose mode is needed when the filter is strict and at least one altnet's sources route
 * back through another interface, or through none (a default route through ppp0 may come
 * later; loose mode then accepts them, strict never would). Without altnets the sources are
 * in the upstream's own subnet, which routes back through it.
 */
export function decideRpFilter(facts: UpstreamFacts): RpFilterDecision {
  const effective = effectiveRpFilter(facts.all, facts.own);
  if (effective !== RP_FILTER_STRICT) {
    return {
      action: 'keep',
      reason: `rp_filter is ${effective === RP_FILTER_OFF ? 'off (0)' : `loose (${effective})`} already`,
    };
  }
  if (facts.routes.length === 0) {
    return { action: 'keep', reason: 'no altnet: the sources are in its own subnet' };
  }
  const elsewhere = facts.routes.find((route) => reversePathDrops(RP_FILTER_STRICT, facts.ifindex, route.outIfindex));
  if (elsewhere === undefined) {
    return { action: 'keep', reason: 'the route back to every altnet goes out through it' };
  }
  const where =
    elsewhere.outIfindex === undefined
      ? 'there is no route back to it'
      : `the route back to it goes out through ${elsewhere.outName ?? `ifindex ${elsewhere.outIfindex}`}`;
  const strictBy = facts.own === RP_FILTER_STRICT ? `conf/${facts.name}` : 'conf/all';
  return {
    action: 'loosen',
    previous: facts.own,
    reason:
      `strict rp_filter (${strictBy} = 1) would drop its streams from altnet ${formatCidr(elsewhere.altnet)}: ` +
      `${where} (asked for ${formatIpv4(elsewhere.probe)})`,
  };
}

/** A switch the daemon made and must undo when it stops. */
export interface LoosenedUpstream {
  readonly name: string;
  readonly ifindex: number;
  readonly previous: number;
}

export type RestoreDecision =
  | { readonly action: 'restore'; readonly value: number }
  | { readonly action: 'skip'; readonly reason: string };

/**
 * Whether to put a switched interface back. `now` is the interface of that name as it is
 * (undefined when gone). A re-created interface started from conf/default, and a value
 * someone changed since is theirs: neither is overwritten.
 */
export function decideRestore(
  loosened: LoosenedUpstream,
  now: { readonly ifindex: number; readonly own: number } | undefined,
): RestoreDecision {
  if (now === undefined || now.ifindex !== loosened.ifindex) return { action: 'skip', reason: 'the interface is gone' };
  if (now.own !== RP_FILTER_LOOSE)
    return { action: 'skip', reason: `its rp_filter was changed to ${now.own} meanwhile; left so` };
  return { action: 'restore', value: loosened.previous };
}
