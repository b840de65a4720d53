// Which groups may be proxied at all, and which an interface's whitelist/blacklist admits.
import { cidrContains, isLinkLocalMulticast, isMulticast } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupFilter } from '../config/types.ts';

/** 239.255.255.250: SSDP/UPnP discovery, site-local chatter that must stay on its LAN. */
export const SSDP_GROUP: Ipv4 = 0xeffffffa;

/**
 * Groups never proxied: non-multicast, 224.0.0.0/24 (link-local control: all-hosts,
 * routers, mDNS 224.0.0.251, ...) and SSDP. C igmpproxy joins these upstream.
 */
export function isProxiableGroup(group: Ipv4): boolean {
  return isMulticast(group) && !isLinkLocalMulticast(group) && group !== SSDP_GROUP;
}

/** Ordered whitelist/blacklist: the last matching entry wins; with any 'allow' entry the
 * default is deny, otherwise allow. */
export function groupFilterAllows(filters: readonly GroupFilter[], group: Ipv4): boolean {
  let allowed = !filters.some((f) => f.action === 'allow');
  for (const filter of filters) {
    if (cidrContains(filter.range, group)) allowed = filter.action === 'allow';
  }
  return allowed;
}

/** Both checks: may `group` be handled on an interface with these filters? */
export function groupAllowed(filters: readonly GroupFilter[], group: Ipv4): boolean {
  return isProxiableGroup(group) && groupFilterAllows(filters, group);
}
