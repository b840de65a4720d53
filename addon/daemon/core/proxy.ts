// The IGMP proxy (RFC 4605) as a pure state machine. The daemon feeds it events (interfaces,
// IGMP messages, kernel upcalls, the passing of time) and carries out the returned effects
// in order. Clock and randomness are injected; nothing here does I/O or sets real timers.
//
// Roles: on each downstream we are an IGMPv3 router (querier election, membership state);
// on each upstream we are an IGMPv3 host reporting the merge of all downstream memberships
// (RFC 4605 4.1), filtered by that upstream's whitelist/blacklist. Data flows only from an
// upstream to downstreams, per (S,G).
//
// Decisions worth knowing:
// - Reports on a downstream count only when the sender is in the interface's subnet, in one
//   of its altnets, or is 0.0.0.0 (an unnumbered host, e.g. a DHCP client; RFC 3376 4.2.13).
//   C igmpproxy also ignores foreign senders; altnet on a downstream is how its users list
//   receivers outside the subnet.
// - Our own packets looped back by the raw socket (source = one of our addresses) are ignored.
// - Reports heard on an upstream are other hosts' business; the Router Alert option is not
//   required (some IPTV set-top boxes omit it).
// - Changes are collected per call and applied once at its end, so a batch of records in one
//   report becomes one upstream report, and a leave's route delete and upstream leave land
//   in the same effect batch.
import { cidrContains, formatIpv4, isSourceSpecificMulticast, makeCidr } from '../net/ipv4.ts';
import type { Cidr, Ipv4 } from '../net/ipv4.ts';
import type { IgmpMessage, KernelUpcall } from '../igmp/types.ts';
import type { DaemonConfig, PhyintConfig } from '../config/types.ts';
import type { Effect, InterfaceInfo, LogEffect, RouteOutput } from './effects.ts';
import type { CoreContext } from './context.ts';
import { TimerQueue } from './timers.ts';
import { DEFAULT_SETTINGS, FOREIGN_SOURCE_WARNING_INTERVAL_MS, UNRESOLVED_MEMORY_MS } from './settings.ts';

/** Refused upcalls remembered per upstream (see refusedUpcalls). */
const MAX_REFUSED_UPCALLS = 1024;
import type { ProtocolSettings } from './settings.ts';
import { groupAllowed, groupFilterAllows, isProxiableGroup } from './filters.ts';
import { Membership } from './membership.ts';
import type { GroupSnapshot, Subscription } from './membership.ts';
import { LinkSettings, linkContext } from './link-settings.ts';
import { Querier } from './querier.ts';
import type { QuerierSnapshot } from './querier.ts';
import { UpstreamHost } from './upstream.ts';
import type { DesiredState, UpstreamSnapshot } from './upstream.ts';
import { RouteTable } from './routes.ts';
import type { RouteSnapshot } from './routes.ts';
import { intersect, minus } from './sources.ts';

export interface ProxyDeps {
  /** Monotonic milliseconds. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
  /** Protocol timers; the RFC defaults when absent. */
  readonly settings?: ProtocolSettings;
}

/** What the core needs from the IP header of a received IGMP packet. */
export interface PacketInfo {
  readonly source: Ipv4;
  readonly destination: Ipv4;
  readonly routerAlert: boolean;
}

export type UpcallInfo = Pick<KernelUpcall, 'kind' | 'source' | 'group'>;

export interface ProxySnapshot {
  readonly now: number;
  readonly quickLeave: boolean;
  readonly settings: ProtocolSettings;
  /** Running timers; a number that grows without bound would be a leak. */
  readonly timers: number;
  readonly downstreams: readonly {
    readonly name: string;
    readonly ifindex: number;
    readonly address: string;
    readonly prefixLength: number;
    readonly querier: QuerierSnapshot;
    readonly groups: readonly GroupSnapshot[];
  }[];
  readonly upstreams: readonly ({ readonly name: string; readonly ifindex: number; readonly address: string; readonly prefixLength: number } & UpstreamSnapshot)[];
  readonly routes: readonly RouteSnapshot[];
}

interface Downstream {
  readonly kind: 'downstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly querier: Querier;
  readonly membership: Membership;
}

interface Upstream {
  readonly kind: 'upstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly host: UpstreamHost;
}

export class Proxy {
  private config: DaemonConfig;
  private readonly deps: ProxyDeps;
  private readonly timers = new TimerQueue();
  private readonly ctx: CoreContext;
  private effects: Effect[] = [];
  private readonly downstreams = new Map<string, Downstream>();
  private readonly upstreams = new Map<string, Upstream>();
  /** Upstream host state outlives interfaceDown, to remember the querier's version. */
  private readonly upstreamHosts = new Map<string, UpstreamHost>();
  private readonly routes: RouteTable;
  private readonly dirtyGroups = new Set<Ipv4>();
  private ownAddresses = new Set<Ipv4>();
  private readonly warnedAt = new Map<string, number>();
  /**
   * Upcalls refused for their source, per upstream, with when they came. The kernel queues
   * the packets after an upcall and stays silent for its unresolved time (10 s); when the
   * upstream's address arrives late (PPP, DHCP, carrier), these are checked again at once
   * instead of leaving the channel dark until the kernel asks again.
   */
  private readonly refusedUpcalls = new Map<string, Map<string, { source: Ipv4; group: Ipv4; at: number }>>();

  constructor(config: DaemonConfig, deps: ProxyDeps) {
    this.config = config;
    this.deps = deps;
    const settings = deps.settings ?? DEFAULT_SETTINGS;
    this.ctx = {
      settings,
      timers: this.timers,
      now: () => deps.now(),
      random: () => deps.random(),
      emit: (effect) => this.effects.push(effect),
      log: (level, message) => this.effects.push({ type: 'log', level, message }),
      quickLeave: () => this.config.quickLeave,
    };
    this.routes = new RouteTable(this.ctx, {
      outputsFor: (source, group) => this.outputsFor(source, group),
      rateLimitOf: (input) => this.upstreams.get(input)?.config.rateLimit ?? 0,
    });
  }

  // ---- events ---------------------------------------------------------------------------

  /** A configured interface is present, up and has its VIF. Calling it again is harmless. */
  interfaceUp(info: InterfaceInfo): Effect[] {
    return this.run(() => {
      const config = this.phyint(info.name);
      if (config === undefined || config.role === 'disabled') {
        this.ctx.log('debug', `${info.name}: not an upstream or downstream in the configuration; ignored`);
        return;
      }
      const existing = this.downstreams.get(info.name) ?? this.upstreams.get(info.name);
      if (existing !== undefined && existing.info.ifindex === info.ifindex && existing.config.role === config.role) {
        const renumbered = existing.info.address !== info.address || existing.info.prefixLength !== info.prefixLength;
        existing.info = info;
        this.refreshOwnAddresses();
        if (renumbered && existing.kind === 'upstream') this.recheckRefusedUpcalls(existing);
        return;
      }
      if (existing !== undefined) this.tearDown(info.name, false);
      this.bringUp(info, config);
    });
  }

  /** The interface is gone or down: its memberships and the routes through it go. */
  interfaceDown(name: string): Effect[] {
    return this.run(() => {
      if (!this.downstreams.has(name) && !this.upstreams.has(name)) return;
      this.ctx.log('info', `${name}: down`);
      this.tearDown(name, false);
    });
  }

  /** An IGMP message that the kernel says arrived on `ifname`. */
  receiveIgmp(ifname: string, packet: PacketInfo, message: IgmpMessage): Effect[] {
    return this.run(() => this.handleIgmp(ifname, packet, message));
  }

  /** A multicast routing upcall that the kernel attributes to `ifname`'s VIF. */
  receiveUpcall(ifname: string, upcall: UpcallInfo): Effect[] {
    return this.run(() => this.handleUpcall(ifname, upcall));
  }

  /** Runs every timer due at deps.now(). */
  advance(): Effect[] {
    return this.run(() => {
      this.timers.runDue(this.deps.now());
    });
  }

  /** When advance() next has work, undefined when nothing is scheduled. */
  nextDeadline(): number | undefined {
    return this.timers.nextDeadline();
  }

  /**
   * A new configuration (SIGHUP). Interfaces whose role, altnets and filters are unchanged
   * keep their groups and routes; a changed threshold or rate limit only refreshes routes.
   * Other interfaces are torn down (leaving upstream groups politely) and, when still
   * configured, brought up again at once with their known address.
   */
  reconfigure(config: DaemonConfig): Effect[] {
    return this.run(() => {
      this.config = config;
      const current: (Downstream | Upstream)[] = [...this.downstreams.values(), ...this.upstreams.values()];
      for (const iface of current) {
        const next = this.phyint(iface.info.name);
        const name = iface.info.name;
        if (next === undefined || next.role !== iface.config.role || !sameNetworks(iface.config, next)) {
          this.ctx.log('info', `${name}: configuration changed; restarting it`);
          this.tearDown(name, true);
          this.upstreamHosts.get(name)?.destroy();
          this.upstreamHosts.delete(name);
          if (next !== undefined && next.role !== 'disabled') this.bringUp(iface.info, next);
          continue;
        }
        const previous = iface.config;
        iface.config = next;
        if (iface.kind === 'downstream' && previous.threshold !== next.threshold) {
          for (const group of iface.membership.groupAddresses()) this.dirtyGroups.add(group);
        }
        if (iface.kind === 'upstream' && previous.rateLimit !== next.rateLimit) this.routes.refreshInput(name);
      }
    });
  }

  /** Deletes every route and leaves every joined group on every upstream. */
  shutdown(): Effect[] {
    return this.run(() => {
      this.routes.deleteAll();
      this.refusedUpcalls.clear();
      for (const upstream of this.upstreams.values()) upstream.host.leaveAll();
      for (const host of this.upstreamHosts.values()) host.destroy();
      for (const downstream of this.downstreams.values()) {
        downstream.querier.stop();
        downstream.membership.clear();
      }
      this.downstreams.clear();
      this.upstreams.clear();
      this.upstreamHosts.clear();
      this.dirtyGroups.clear();
      this.refreshOwnAddresses();
    });
  }

  /** Routes with receivers, for the stall alarm; empty when nobody watches anything. */
  routesWithReceivers(): { readonly source: Ipv4; readonly group: Ipv4; readonly input: string }[] {
    return [...this.routes.installed()];
  }

  /** Query activity heard on upstream `name` (kept across down/up), undefined when unknown. */
  upstreamQuerierActivity(name: string): UpstreamHost['querierActivity'] | undefined {
    return this.upstreamHosts.get(name)?.querierActivity;
  }

  snapshot(): ProxySnapshot {
    return {
      now: this.deps.now(),
      quickLeave: this.config.quickLeave,
      settings: this.ctx.settings,
      timers: this.timers.size,
      downstreams: [...this.downstreams.values()].map((d) => ({
        name: d.info.name,
        ifindex: d.info.ifindex,
        address: formatIpv4(d.info.address),
        prefixLength: d.info.prefixLength,
        querier: d.querier.snapshot(),
        groups: d.membership.snapshot(),
      })),
      upstreams: [...this.upstreams.values()].map((u) => ({
        name: u.info.name,
        ifindex: u.info.ifindex,
        address: formatIpv4(u.info.address),
        prefixLength: u.info.prefixLength,
        ...u.host.snapshot(),
      })),
      routes: this.routes.snapshot(),
    };
  }

  // ---- IGMP -----------------------------------------------------------------------------

  private handleIgmp(ifname: string, packet: PacketInfo, message: IgmpMessage): void {
    if (this.ownAddresses.has(packet.source)) return; // our own packet, looped back
    const upstream = this.upstreams.get(ifname);
    const downstream = this.downstreams.get(ifname);
    if (upstream === undefined && downstream === undefined) {
      this.ctx.log('debug', `IGMP ${message.type} from ${formatIpv4(packet.source)} on ${ifname}, which is not proxied; ignored`);
      return;
    }
    if (message.type === 'query') {
      if (upstream !== undefined) {
        upstream.host.queryHeard(packet.source, message);
      } else if (downstream !== undefined) {
        downstream.querier.queryHeard(packet.source, message);
        // 6.6.1: a non-querier follows the querier's group-specific queries.
        if (!downstream.querier.isQuerier) downstream.membership.queryHeard(message);
      }
      return;
    }
    if (downstream === undefined) {
      this.ctx.log('debug', `${ifname}: ${message.type} from ${formatIpv4(packet.source)} on an upstream; not ours to handle`);
      return;
    }
    if (!this.senderAcceptable(downstream, packet.source)) return;
    const host = packet.source;
    const membership = downstream.membership;
    switch (message.type) {
      case 'v1-report':
        if (this.groupAccepted(downstream, message.group, host) && this.namesItsSources(downstream, message.group, host, 'IGMPv1 report')) {
          membership.v1Report(host, message.group);
        }
        break;
      case 'v2-report':
        if (this.groupAccepted(downstream, message.group, host) && this.namesItsSources(downstream, message.group, host, 'IGMPv2 report')) {
          membership.v2Report(host, message.group);
        }
        break;
      case 'v2-leave':
        // No v1/v2 membership can exist in the SSM range, so there is nothing to leave.
        if (this.groupAccepted(downstream, message.group, host) && !isSourceSpecificMulticast(message.group)) {
          membership.v2Leave(host, message.group);
        }
        break;
      case 'v3-report':
        for (const record of message.records) {
          if (!this.groupAccepted(downstream, record.group, host)) continue;
          const anySource = record.recordType === 'is-exclude' || record.recordType === 'to-exclude';
          if (anySource && !this.namesItsSources(downstream, record.group, host, 'EXCLUDE-mode (any source) record')) continue;
          membership.v3Record(host, record.recordType, record.group, record.sources);
        }
        break;
    }
  }

  /**
   * Source-specific multicast (232.0.0.0/8, RFC 4607/4604): a receiver must name the
   * sources it wants (IGMPv3 INCLUDE). IGMPv1/v2 reports and EXCLUDE-mode records ask for
   * any source there and are ignored, so nothing in the SSM range is forwarded from a
   * source nobody asked for. Returns true when the message may be used.
   */
  private namesItsSources(downstream: Downstream, group: Ipv4, host: Ipv4, what: string): boolean {
    if (!isSourceSpecificMulticast(group)) return true;
    this.warnOnce(
      `ssm ${downstream.info.name} ${host}`,
      'info',
      `${downstream.info.name}: ${what} for ${formatIpv4(group)} from ${formatIpv4(host)} ignored: ` +
        'in the source-specific range 232.0.0.0/8 a receiver must name its sources (IGMPv3 INCLUDE)',
    );
    return false;
  }

  private senderAcceptable(downstream: Downstream, sender: Ipv4): boolean {
    if (sender === 0) return true;
    const info = downstream.info;
    if (info.address !== 0 && info.prefixLength > 0 && cidrContains(makeCidr(info.address, info.prefixLength), sender)) return true;
    if (downstream.config.altnets.some((net) => cidrContains(net, sender))) return true;
    this.warnOnce(
      `sender ${info.name} ${sender}`,
      'info',
      `${info.name}: ignoring IGMP from ${formatIpv4(sender)}: not in ${formatCidr(info.address, info.prefixLength)} nor in an altnet of this downstream ` +
        `(if this receiver is legitimate, add "altnet ${formatIpv4(sender)}/32" to "phyint ${info.name}")`,
    );
    return false;
  }

  private groupAccepted(downstream: Downstream, group: Ipv4, host: Ipv4): boolean {
    if (groupAllowed(downstream.config.groupFilters, group)) return true;
    const why = isProxiableGroup(group) ? 'denied by its whitelist/blacklist' : 'a local-only group';
    this.ctx.log('debug', `${downstream.info.name}: report for ${formatIpv4(group)} from ${formatIpv4(host)} ignored: ${why}`);
    return false;
  }

  // ---- upcalls ----------------------------------------------------------------------------

  private handleUpcall(ifname: string, upcall: UpcallInfo): void {
    const pair = `(${formatIpv4(upcall.source)}, ${formatIpv4(upcall.group)})`;
    if (upcall.kind !== 'nocache') {
      this.ctx.log('debug', `${ifname}: ${upcall.kind} upcall for ${pair} ignored`);
      return;
    }
    if (this.downstreams.has(ifname)) {
      this.ctx.log('debug', `${ifname}: multicast ${pair} from a downstream is never routed`);
      return;
    }
    const upstream = this.upstreams.get(ifname);
    if (upstream === undefined) {
      this.ctx.log('debug', `${ifname}: upcall for ${pair} on an interface that is not proxied; ignored`);
      return;
    }
    if (!isProxiableGroup(upcall.group) || !groupFilterAllows(upstream.config.groupFilters, upcall.group)) {
      this.ctx.log('debug', `${ifname}: ${pair} not routed: group not allowed on this upstream`);
      return;
    }
    if (!this.sourceAcceptable(upstream, upcall.source)) {
      this.rememberRefusedUpcall(ifname, upcall.source, upcall.group);
      if (upstream.info.address === 0) {
        this.ctx.log('info', `${ifname}: multicast ${pair} waits: this upstream has no IPv4 address yet and no altnet covers the source`);
        return;
      }
      const network = makeCidr(upcall.source, 24);
      this.warnOnce(
        `source ${ifname} ${network.network}`,
        'warning',
        `${ifname}: multicast ${pair} comes from outside ${formatCidr(upstream.info.address, upstream.info.prefixLength)} and every altnet of this upstream; not forwarded. ` +
          `If this source is your provider's, add "altnet ${formatIpv4(network.network)}/24" (or the provider's wider range) to "phyint ${ifname}"`,
      );
      return;
    }
    this.routes.resolve(ifname, upcall.source, upcall.group);
  }

  private rememberRefusedUpcall(ifname: string, source: Ipv4, group: Ipv4): void {
    let refused = this.refusedUpcalls.get(ifname);
    if (refused === undefined) {
      refused = new Map();
      this.refusedUpcalls.set(ifname, refused);
    }
    const now = this.deps.now();
    // Bounded: drop what the kernel has forgotten, then the oldest if still too many.
    for (const [key, entry] of refused) if (now - entry.at >= UNRESOLVED_MEMORY_MS) refused.delete(key);
    if (refused.size >= MAX_REFUSED_UPCALLS) refused.delete(refused.keys().next().value as string);
    refused.set(`${source}/${group}`, { source, group, at: now });
  }

  private recheckRefusedUpcalls(upstream: Upstream): void {
    const refused = this.refusedUpcalls.get(upstream.info.name);
    if (refused === undefined) return;
    const now = this.deps.now();
    for (const [key, entry] of refused) {
      if (now - entry.at >= UNRESOLVED_MEMORY_MS) {
        refused.delete(key);
      } else if (this.sourceAcceptable(upstream, entry.source)) {
        refused.delete(key);
        this.routes.resolve(upstream.info.name, entry.source, entry.group);
      }
    }
  }

  private sourceAcceptable(upstream: Upstream, source: Ipv4): boolean {
    const info = upstream.info;
    if (info.address !== 0 && info.prefixLength > 0 && cidrContains(makeCidr(info.address, info.prefixLength), source)) return true;
    return upstream.config.altnets.some((net) => cidrContains(net, source));
  }

  private outputsFor(source: Ipv4, group: Ipv4): RouteOutput[] {
    const outputs: RouteOutput[] = [];
    for (const downstream of this.downstreams.values()) {
      if (downstream.membership.forwards(group, source)) outputs.push({ interface: downstream.info.name, threshold: downstream.config.threshold });
    }
    return outputs.sort((a, b) => (a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0));
  }

  // ---- interfaces -------------------------------------------------------------------------

  private bringUp(info: InterfaceInfo, config: PhyintConfig): void {
    const name = info.name;
    this.ctx.log('info', `${name}: up as ${config.role} (${formatCidr(info.address, info.prefixLength)})`);
    if (config.role === 'downstream') {
      const holder: { d?: Downstream } = {};
      const sendQuery = (message: IgmpMessage, destination: Ipv4): void => {
        const d = holder.d!;
        // Without an address (a moment without carrier, renumbering) a query would come from
        // 0.0.0.0, the snooping switches' stand-in; the schedule goes on and the next one counts.
        if (d.info.address === 0) {
          this.ctx.log('debug', `${d.info.name}: no IPv4 address at the moment; query not sent`);
          return;
        }
        this.ctx.emit({ type: 'send-igmp', interface: d.info.name, source: d.info.address, destination, message });
      };
      const link = new LinkSettings(this.ctx.settings);
      const linkCtx = linkContext(this.ctx, link);
      const querier = new Querier(linkCtx, { name, address: () => holder.d!.info.address, sendQuery }, link);
      const membership = new Membership(linkCtx, {
        name,
        isQuerier: () => querier.isQuerier,
        sendQuery,
        changed: (group) => this.dirtyGroups.add(group),
      });
      const downstream: Downstream = { kind: 'downstream', info, config, querier, membership };
      holder.d = downstream;
      this.downstreams.set(name, downstream);
      this.refreshOwnAddresses();
      querier.start();
      return;
    }
    let host = this.upstreamHosts.get(name);
    if (host === undefined) {
      host = new UpstreamHost(this.ctx, {
        name,
        send: (message, destination) => {
          const u = this.upstreams.get(name);
          if (u !== undefined) this.ctx.emit({ type: 'send-igmp', interface: name, source: u.info.address, destination, message });
        },
      });
      this.upstreamHosts.set(name, host);
    }
    this.upstreams.set(name, { kind: 'upstream', info, config, host });
    this.refreshOwnAddresses();
    // Join everything the downstreams want, at once.
    for (const downstream of this.downstreams.values()) {
      for (const group of downstream.membership.groupAddresses()) this.dirtyGroups.add(group);
    }
  }

  /** graceful: the interface is still there (reconfigure), so tell the upstream router we leave. */
  private tearDown(name: string, graceful: boolean): void {
    const downstream = this.downstreams.get(name);
    if (downstream !== undefined) {
      downstream.querier.stop();
      for (const group of downstream.membership.clear()) this.dirtyGroups.add(group);
      this.downstreams.delete(name);
    }
    const upstream = this.upstreams.get(name);
    if (upstream !== undefined) {
      this.routes.dropInput(name);
      this.refusedUpcalls.delete(name);
      if (graceful) upstream.host.leaveAll();
      else upstream.host.reset();
      this.upstreams.delete(name);
    }
    this.refreshOwnAddresses();
  }

  private refreshOwnAddresses(): void {
    const addresses = new Set<Ipv4>();
    for (const iface of [...this.downstreams.values(), ...this.upstreams.values()]) if (iface.info.address !== 0) addresses.add(iface.info.address);
    this.ownAddresses = addresses;
  }

  private phyint(name: string): PhyintConfig | undefined {
    return this.config.interfaces.find((p) => p.name === name);
  }

  // ---- batching ---------------------------------------------------------------------------

  private run(action: () => void): Effect[] {
    this.effects = [];
    action();
    this.flush();
    const effects = this.effects;
    this.effects = [];
    return effects;
  }

  /** Applies the collected membership changes to routes and upstream reports. */
  private flush(): void {
    if (this.dirtyGroups.size === 0) return;
    const groups = [...this.dirtyGroups].sort((a, b) => a - b);
    this.dirtyGroups.clear();
    const desired = new Map<Ipv4, Subscription | undefined>();
    for (const group of groups) {
      this.routes.refreshGroup(group);
      desired.set(group, this.mergedSubscription(group));
    }
    for (const upstream of this.upstreams.values()) {
      const changes: DesiredState[] = [];
      for (const [group, state] of desired) {
        changes.push({ group, state: state !== undefined && groupAllowed(upstream.config.groupFilters, group) ? state : undefined });
      }
      upstream.host.apply(changes);
    }
  }

  /** RFC 4605 4.1: the union of every downstream's filter for `group`. */
  private mergedSubscription(group: Ipv4): Subscription | undefined {
    let excluded: Set<Ipv4> | undefined;
    const included = new Set<Ipv4>();
    for (const downstream of this.downstreams.values()) {
      const subscription = downstream.membership.subscription(group);
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

  /** Logs at most once per key per FOREIGN_SOURCE_WARNING_INTERVAL_MS. */
  private warnOnce(key: string, level: LogEffect['level'], message: string): void {
    const now = this.deps.now();
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < FOREIGN_SOURCE_WARNING_INTERVAL_MS) return;
    if (this.warnedAt.size > 4096) {
      for (const [k, at] of this.warnedAt) if (now - at >= FOREIGN_SOURCE_WARNING_INTERVAL_MS) this.warnedAt.delete(k);
    }
    this.warnedAt.set(key, now);
    this.ctx.log(level, message);
  }
}

function formatCidr(address: Ipv4, prefixLength: number): string {
  return `${formatIpv4(address)}/${prefixLength}`;
}

function sameCidrs(a: readonly Cidr[], b: readonly Cidr[]): boolean {
  return a.length === b.length && a.every((c, i) => c.network === b[i]!.network && c.prefixLength === b[i]!.prefixLength);
}

/** Do two phyint blocks admit the same senders and groups? (Locations may differ.) */
function sameNetworks(a: PhyintConfig, b: PhyintConfig): boolean {
  return (
    sameCidrs(a.altnets, b.altnets) &&
    a.groupFilters.length === b.groupFilters.length &&
    a.groupFilters.every((f, i) => {
      const g = b.groupFilters[i]!;
      return f.action === g.action && f.range.network === g.range.network && f.range.prefixLength === g.range.prefixLength;
    })
  );
}
