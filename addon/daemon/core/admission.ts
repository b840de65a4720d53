// What the proxy admits, as pure checks. Each returns undefined to admit, or the Refusal:
// the log line saying why, and when the same cause would repeat with traffic, the key
// under which the caller throttles it (log-throttle.ts). Nothing here logs or keeps state.
// A new check (a limit, a TTL) is one more function here, called where proxy.ts dispatches
// the event; a check that needs memory (counts per host) keeps it in the module that owns it.
import { cidrContains, formatIpv4, isSourceSpecificMulticast, makeCidr } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { DownstreamLimits, PhyintConfig } from '../config/types.ts';
import type { InterfaceInfo, LogEffect } from './effects.ts';
import { groupAllowed, groupFilterAllows, isProxiableGroup } from './filters.ts';

/** Refusals a downstream counts (status document: proxy.downstreams[].refused). */
export type RefusalCounter = keyof DownstreamLimits | 'ttl' | 'reportRate';

export interface Refusal {
  readonly level: LogEffect['level'];
  /** Built only when read by the hot ones (DeferredRefusal): refusals that traffic repeats are mostly counted, not logged. */
  readonly message: string;
  /** Lines with the same key are logged once per REPEATED_LOG_INTERVAL_MS; absent: every time. */
  readonly throttleKey?: string;
  /** The downstream counter this refusal adds one to; absent: not counted. */
  readonly counter?: RefusalCounter;
}

/** A refusal whose log line is built only when read: those that traffic repeats are mostly counted, not logged. */
class DeferredRefusal implements Refusal {
  readonly level: LogEffect['level'];
  readonly throttleKey: string;
  readonly counter: RefusalCounter;
  private readonly describe: () => string;

  constructor(level: LogEffect['level'], throttleKey: string, counter: RefusalCounter, describe: () => string) {
    this.level = level;
    this.throttleKey = throttleKey;
    this.counter = counter;
    this.describe = describe;
  }

  get message(): string {
    return this.describe();
  }
}

/**
 * RFC 2236 section 2 and RFC 3376 section 4: every IGMP message is sent with IP TTL 1, so
 * one with another TTL was not sent by an RFC host on this link (it was routed here, or
 * forged). Refused unless `igmpttl any` is configured for broken receivers.
 */
export function refuseTtl(
  name: string,
  requireTtlOne: boolean,
  sender: Ipv4,
  ttl: number,
  what: string,
): Refusal | undefined {
  if (ttl === 1 || !requireTtlOne) return undefined;
  return new DeferredRefusal(
    'info',
    `ttl ${name} ${sender}`,
    'ttl',
    () =>
      `${name}: ignoring IGMP ${what} from ${formatIpv4(sender)} with IP TTL ${ttl}: hosts on the link send IGMP with TTL 1 (RFC 2236, RFC 3376); ` +
      'if this receiver is yours and cannot be fixed, put "igmpttl any" in the configuration',
  );
}

/** What a downstream holds now, as far as the limits care. */
export interface MembershipCounts {
  /** Groups on the interface. */
  readonly groups: number;
  readonly groupExists: boolean;
  /** Groups the requesting host is tracked in. */
  readonly hostGroups: number;
  readonly hostIsMember: boolean;
  /** Sources in the group's state, and how many the request would add. */
  readonly sources: number;
  readonly addedSources: number;
}

/**
 * The limits on what receivers make a downstream hold (maxgroups, maxgroupsperhost,
 * maxsources). `joins`: the request makes the host a member (a report, or an IGMPv3 record
 * asking for traffic); requests that only keep or shrink state are never refused, so a
 * lowered limit never blocks a leave. One log line per host and minute for all three.
 */
export function refuseBeyondLimits(
  name: string,
  limits: DownstreamLimits,
  counts: MembershipCounts,
  group: Ipv4,
  host: Ipv4,
  joins: boolean,
): Refusal | undefined {
  const refusal = (counter: keyof DownstreamLimits, why: () => string): Refusal =>
    new DeferredRefusal(
      'warning',
      `limit ${name} ${host}`,
      counter,
      () =>
        `${name}: join of ${formatIpv4(group)} from ${formatIpv4(host)} ignored: ${why()} (further refusals for this host are counted, logged once a minute)`,
    );
  if (joins && !counts.groupExists && counts.groups >= limits.groupsPerInterface) {
    return refusal(
      'groupsPerInterface',
      () => `this downstream already has ${counts.groups} groups, the limit (maxgroups ${limits.groupsPerInterface})`,
    );
  }
  if (joins && !counts.hostIsMember && counts.hostGroups >= limits.groupsPerHost) {
    return refusal(
      'groupsPerHost',
      () => `this host is already in ${counts.hostGroups} groups, the limit (maxgroupsperhost ${limits.groupsPerHost})`,
    );
  }
  if (counts.addedSources > 0 && counts.sources + counts.addedSources > limits.sourcesPerGroup) {
    return refusal(
      'sourcesPerGroup',
      () =>
        `${counts.sources + counts.addedSources} sources would exceed the limit per group (maxsources ${limits.sourcesPerGroup})`,
    );
  }
  return undefined;
}

/** Is `address` in the interface's own subnet or one of its altnets? */
export function inInterfaceNetworks(info: InterfaceInfo, config: PhyintConfig, address: Ipv4): boolean {
  if (info.address !== 0 && info.prefixLength > 0 && cidrContains(makeCidr(info.address, info.prefixLength), address))
    return true;
  return config.altnets.some((net) => cidrContains(net, address));
}

/**
 * A report or leave on a downstream counts only from the interface's subnet, one of its
 * altnets, or 0.0.0.0 (an unnumbered host, e.g. a DHCP client; RFC 3376 4.2.13). C igmpproxy
 * also ignores foreign senders; altnet on a downstream is how its users list receivers
 * outside the subnet.
 */
export function refuseSender(info: InterfaceInfo, config: PhyintConfig, sender: Ipv4): Refusal | undefined {
  if (sender === 0 || inInterfaceNetworks(info, config, sender)) return undefined;
  return {
    level: 'info',
    throttleKey: `sender ${info.name} ${sender}`,
    message:
      `${info.name}: ignoring IGMP from ${formatIpv4(sender)}: not in ${formatCidr(info.address, info.prefixLength)} nor in an altnet of this downstream ` +
      `(if this receiver is legitimate, add "altnet ${formatIpv4(sender)}/32" to "phyint ${info.name}")`,
  };
}

/** A group reported on a downstream: proxiable and admitted by its whitelist/blacklist. */
export function refuseReportedGroup(name: string, config: PhyintConfig, group: Ipv4, host: Ipv4): Refusal | undefined {
  if (groupAllowed(config.groupFilters, group)) return undefined;
  const why = isProxiableGroup(group) ? 'denied by its whitelist/blacklist' : 'a local-only group';
  return {
    level: 'debug',
    message: `${name}: report for ${formatIpv4(group)} from ${formatIpv4(host)} ignored: ${why}`,
  };
}

/**
 * Source-specific multicast (232.0.0.0/8, RFC 4607/4604): a receiver must name the sources
 * it wants (IGMPv3 INCLUDE). `what` is a request for any source (IGMPv1/v2 report,
 * EXCLUDE-mode record); in the SSM range it is refused, so nothing there is forwarded from
 * a source nobody asked for.
 */
export function refuseAnySourceRequest(name: string, group: Ipv4, host: Ipv4, what: string): Refusal | undefined {
  if (!isSourceSpecificMulticast(group)) return undefined;
  return {
    level: 'info',
    throttleKey: `ssm ${name} ${host}`,
    message:
      `${name}: ${what} for ${formatIpv4(group)} from ${formatIpv4(host)} ignored: ` +
      'in the source-specific range 232.0.0.0/8 a receiver must name its sources (IGMPv3 INCLUDE)',
  };
}

/** Multicast arriving on an upstream is routed only for groups that upstream may carry. */
export function refuseUpcallGroup(name: string, config: PhyintConfig, source: Ipv4, group: Ipv4): Refusal | undefined {
  if (isProxiableGroup(group) && groupFilterAllows(config.groupFilters, group)) return undefined;
  return { level: 'debug', message: `${name}: ${pair(source, group)} not routed: group not allowed on this upstream` };
}

/**
 * Multicast on an upstream is routed only from a source in its subnet or an altnet. Without
 * an address yet (PPP, DHCP) the upcall waits; otherwise the warning names the altnet line
 * to add, once per upstream and source /24.
 */
export function refuseUpcallSource(
  info: InterfaceInfo,
  config: PhyintConfig,
  source: Ipv4,
  group: Ipv4,
): Refusal | undefined {
  if (inInterfaceNetworks(info, config, source)) return undefined;
  const name = info.name;
  if (info.address === 0) {
    return {
      level: 'info',
      message: `${name}: multicast ${pair(source, group)} waits: this upstream has no IPv4 address yet and no altnet covers the source`,
    };
  }
  const network = makeCidr(source, 24);
  return {
    level: 'warning',
    throttleKey: `source ${name} ${network.network}`,
    message:
      `${name}: multicast ${pair(source, group)} comes from outside ${formatCidr(info.address, info.prefixLength)} and every altnet of this upstream; not forwarded. ` +
      `If this source is your provider's, add "altnet ${formatIpv4(network.network)}/24" (or the provider's wider range) to "phyint ${name}"`,
  };
}

export function formatCidr(address: Ipv4, prefixLength: number): string {
  return `${formatIpv4(address)}/${prefixLength}`;
}

function pair(source: Ipv4, group: Ipv4): string {
  return `(${formatIpv4(source)}, ${formatIpv4(group)})`;
}

/** The log line for a host beyond its share of datagrams (host-report-rate.ts); the caller counts and throttles first. */
export function reportRateMessage(name: string, host: Ipv4, perSecond: number, burst: number): string {
  return (
    `${name}: IGMP from ${formatIpv4(host)} dropped unread: more than ${burst} at once or ${perSecond} a second from one host, ` +
    'which no RFC host sends (further drops for this host are counted, logged once a minute)'
  );
}
