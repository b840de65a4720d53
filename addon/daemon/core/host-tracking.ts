// Each reporting host's own filter per group, tracked exactly (a Map keyed by host address,
// no hash), on top of the RFC 3376 router state. It answers one question for quickleave:
// does any host we heard still want this group, or this source? When none does, the
// last-member procedure may expire it at once (membership.ts decides; it still queries).
//
// A record changes the host's filter as RFC 3376 3.2 defines the host side: IS_IN/TO_IN and
// IS_EX/TO_EX replace it, ALLOW adds to an INCLUDE list (removes from an EXCLUDE list), BLOCK
// the reverse. INCLUDE({}) means the host wants nothing and is no longer tracked. An IGMPv1/v2
// report is EXCLUDE({}). Hosts are not aged one by one (a v2 host may be silent because
// another's report suppressed its own); a stale entry only keeps the fast path off.
//
// It also counts, per host, the groups that list it: the groups-per-host limit reads that.
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecordType } from '../igmp/types.ts';
import type { FilterMode } from './membership-table.ts';

/** Never changed in place: a change makes a new filter, so one object can serve many hosts. */
export interface HostFilter {
  readonly mode: FilterMode;
  readonly sources: ReadonlySet<Ipv4>;
}

/** EXCLUDE({}): every IGMPv1/v2 report and nearly every IGMPv3 join. One object for all hosts
 * of all groups instead of a filter and an empty Set each (~200 bytes per group, issue 14). */
export const ALL_SOURCES_FILTER: HostFilter = Object.freeze({ mode: 'exclude', sources: new Set<Ipv4>() });

/** `host`'s filter from the sources of an IS_EX / TO_EX record. */
function excludeFilter(list: readonly Ipv4[]): HostFilter {
  return list.length === 0 ? ALL_SOURCES_FILTER : { mode: 'exclude', sources: new Set(list) };
}

/** One group's hosts and their filters (kept inside the group's state); a Map is one. */
export interface GroupHosts {
  readonly size: number;
  get(host: Ipv4): HostFilter | undefined;
  has(host: Ipv4): boolean;
  set(host: Ipv4, filter: HostFilter): unknown;
  delete(host: Ipv4): boolean;
  keys(): Iterable<Ipv4>;
  values(): Iterable<HostFilter>;
  entries(): Iterable<[Ipv4, HostFilter]>;
}

/**
 * A group's hosts as the daemon keeps them. Nearly every group has one receiver (one TV):
 * its address and filter sit in two fields, and a Map is made only while there are two or
 * more (an empty Map alone is ~180 bytes per group, issue 14). Iterates in insertion order.
 */
export class CompactGroupHosts implements GroupHosts {
  private onlyHost: Ipv4 | undefined;
  private onlyFilter: HostFilter | undefined;
  private many: Map<Ipv4, HostFilter> | undefined;

  get size(): number {
    return this.many?.size ?? (this.onlyFilter === undefined ? 0 : 1);
  }

  get(host: Ipv4): HostFilter | undefined {
    if (this.many !== undefined) return this.many.get(host);
    return this.onlyHost === host ? this.onlyFilter : undefined;
  }

  has(host: Ipv4): boolean {
    return this.get(host) !== undefined;
  }

  set(host: Ipv4, filter: HostFilter): void {
    if (this.many !== undefined) {
      this.many.set(host, filter);
    } else if (this.onlyFilter === undefined || this.onlyHost === host) {
      this.onlyHost = host;
      this.onlyFilter = filter;
    } else {
      this.many = new Map([
        [this.onlyHost!, this.onlyFilter],
        [host, filter],
      ]);
      this.onlyHost = undefined;
      this.onlyFilter = undefined;
    }
  }

  delete(host: Ipv4): boolean {
    const many = this.many;
    if (many === undefined) {
      if (this.onlyFilter === undefined || this.onlyHost !== host) return false;
      this.onlyHost = undefined;
      this.onlyFilter = undefined;
      return true;
    }
    if (!many.delete(host)) return false;
    if (many.size === 1) {
      // Back to one receiver: the Map goes.
      const [remainingHost, remainingFilter] = many.entries().next().value!;
      this.onlyHost = remainingHost;
      this.onlyFilter = remainingFilter;
      this.many = undefined;
    }
    return true;
  }

  keys(): Iterable<Ipv4> {
    return [...this.entries()].map(([host]) => host);
  }

  values(): Iterable<HostFilter> {
    if (this.many !== undefined) return this.many.values();
    return this.onlyFilter === undefined ? [] : [this.onlyFilter];
  }

  entries(): Iterable<[Ipv4, HostFilter]> {
    if (this.many !== undefined) return this.many.entries();
    return this.onlyFilter === undefined ? [] : [[this.onlyHost!, this.onlyFilter]];
  }
}

/** Does some host listed in `hosts` want traffic from `source`? */
export function anyHostWants(hosts: GroupHosts, source: Ipv4): boolean {
  for (const filter of hosts.values()) {
    if (filter.mode === 'include' ? filter.sources.has(source) : !filter.sources.has(source)) return true;
  }
  return false;
}

/** Does some host listed in `hosts` ask for every source (EXCLUDE mode)? */
export function anyHostWantsAllSources(hosts: GroupHosts): boolean {
  for (const filter of hosts.values()) if (filter.mode === 'exclude') return true;
  return false;
}

/** The hosts of every group on one interface; the groups are passed in as their host maps. */
export class HostTracking {
  /** Per host, the groups whose host maps list it. */
  private readonly groupsOfHost = new Map<Ipv4, number>();
  /** Called when a host is added to or removed from a group (the status document lists them). */
  private readonly hostsChanged: () => void;

  constructor(hostsChanged: () => void = () => undefined) {
    this.hostsChanged = hostsChanged;
  }

  /** Groups `host` is listed in. */
  groupCount(host: Ipv4): number {
    return this.groupsOfHost.get(host) ?? 0;
  }

  /** `host`'s filter for the group becomes `filter` (INCLUDE({}) drops the host). */
  set(hosts: GroupHosts, host: Ipv4, filter: HostFilter): void {
    if (filter.mode === 'include' && filter.sources.size === 0) {
      this.remove(hosts, host);
      return;
    }
    if (!hosts.has(host)) {
      this.groupsOfHost.set(host, this.groupCount(host) + 1);
      this.hostsChanged();
    }
    hosts.set(host, filter);
  }

  /** One IGMPv3 group record from `host` changes its own filter. */
  record(hosts: GroupHosts, host: Ipv4, type: GroupRecordType, list: readonly Ipv4[]): void {
    switch (type) {
      case 'is-include':
      case 'to-include':
        this.set(hosts, host, { mode: 'include', sources: new Set(list) });
        return;
      case 'is-exclude':
      case 'to-exclude':
        this.set(hosts, host, excludeFilter(list));
        return;
    }
    // ALLOW / BLOCK change a copy: the current filter may be shared.
    const current = hosts.get(host);
    const mode = current?.mode ?? 'include';
    const sources = new Set(current?.sources);
    const adds = (type === 'allow') === (mode === 'include');
    for (const s of list) {
      if (adds) sources.add(s);
      else sources.delete(s);
    }
    this.set(hosts, host, mode === 'exclude' && sources.size === 0 ? ALL_SOURCES_FILTER : { mode, sources });
  }

  /** `host` left the group. */
  remove(hosts: GroupHosts, host: Ipv4): void {
    if (!hosts.delete(host)) return;
    this.hostsChanged();
    const left = this.groupCount(host) - 1;
    if (left > 0) this.groupsOfHost.set(host, left);
    else this.groupsOfHost.delete(host);
  }

  /** The group's source expired: INCLUDE-mode hosts no longer list it; those left with none go. */
  sourceExpired(hosts: GroupHosts, source: Ipv4): void {
    for (const [host, filter] of [...hosts.entries()]) {
      if (filter.mode !== 'include' || !filter.sources.has(source)) continue;
      const sources = new Set(filter.sources);
      sources.delete(source);
      if (sources.size === 0) this.remove(hosts, host);
      else hosts.set(host, { mode: 'include', sources });
    }
  }

  /** The group's EXCLUDE mode ended (6.5): the hosts that asked for all sources go. */
  excludeModeEnded(hosts: GroupHosts): void {
    for (const [host, filter] of [...hosts.entries()]) if (filter.mode === 'exclude') this.remove(hosts, host);
  }

  /** The group is deleted: all its hosts go. */
  removeAll(hosts: GroupHosts): void {
    for (const host of [...hosts.keys()]) this.remove(hosts, host);
  }

  /** Every group is forgotten (the interface went). */
  clear(): void {
    this.groupsOfHost.clear();
  }
}
