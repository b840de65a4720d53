// What a reload (SIGHUP) means for one running interface, as a pure comparison of its old
// and new phyint block. Interfaces whose role, altnets and filters are unchanged keep all
// their state; a new threshold or rate limit only refreshes routes. Anything else restarts
// the interface (an upstream leaves its groups first). Locations in the file do not count.
import type { Cidr } from '../net/ipv4.ts';
import type { PhyintConfig } from '../config/types.ts';

export type InterfaceChange =
  | { readonly kind: 'restart'; readonly bringUpAgain: boolean }
  | { readonly kind: 'keep'; readonly thresholdChanged: boolean; readonly rateLimitChanged: boolean };

/** `next` undefined: the interface is no longer in the configuration. */
export function interfaceChange(previous: PhyintConfig, next: PhyintConfig | undefined): InterfaceChange {
  if (next === undefined || next.role !== previous.role || !sameNetworks(previous, next)) {
    return { kind: 'restart', bringUpAgain: next !== undefined && next.role !== 'disabled' };
  }
  return {
    kind: 'keep',
    thresholdChanged: previous.threshold !== next.threshold,
    rateLimitChanged: previous.rateLimit !== next.rateLimit,
  };
}

function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  return (
    a.length === b.length && a.every((c, i) => c.network === b[i]!.network && c.prefixLength === b[i]!.prefixLength)
  );
}

/** Do two phyint blocks admit the same senders and groups? */
function sameNetworks(a: PhyintConfig, b: PhyintConfig): boolean {
  return (
    sameCidrs(a.altnets, b.altnets) &&
    a.groupFilters.length === b.groupFilters.length &&
    a.groupFilters.every((f, i) => {
      const g = b.groupFilters[i]!;
      return (
        f.action === g.action && f.range.network === g.range.network && f.range.prefixLength === g.range.prefixLength
      );
    })
  );
}
