// RFC 4605 4.1: what a proxy reports upstream for a group is the merge of every
// downstream's filter for it. Any EXCLUDE makes the result EXCLUDE, with only the sources
// that every EXCLUDE filter excludes and no INCLUDE filter includes; otherwise it is
// INCLUDE of the union. Pure; proxy.ts calls it for every group whose listeners changed.
import type { Ipv4 } from '../net/ipv4.ts';
import type { Subscription } from './membership.ts';
import { intersect, minus } from './sources.ts';

/** The merged filter, undefined when no interface wants anything of the group. */
export function mergeSubscriptions(subscriptions: Iterable<Subscription | undefined>): Subscription | undefined {
  let excluded: Set<Ipv4> | undefined;
  const included = new Set<Ipv4>();
  for (const subscription of subscriptions) {
    if (subscription === undefined) continue;
    if (subscription.mode === 'exclude') {
      excluded = excluded === undefined ? new Set(subscription.sources) : intersect(excluded, subscription.sources);
    } else {
      for (const s of subscription.sources) included.add(s);
    }
  }
  if (excluded !== undefined) return { mode: 'exclude', sources: minus(excluded, included) };
  return included.size > 0 ? { mode: 'include', sources: included } : undefined;
}
