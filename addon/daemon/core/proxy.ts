// The IGMP proxy (RFC 4605) as a pure state machine. The daemon feeds it events (interfaces,
// IGMP messages, kernel upcalls, the passing of time) and carries out the returned effects
// in order. Clock and randomness are injected; nothing here does I/O or sets real timers.
//
// Roles: on each downstream we are an IGMPv3 router (querier election, membership state);
// on each upstream we are an IGMPv3 host reporting the merge of all downstream memberships
// (RFC 4605 4.1), filtered by that upstream's whitelist/blacklist. Data flows only from an
// upstream to downstreams, per (S,G).
//
// This file is wiring only: each public method is one event; it dispatches the event to the
// module that owns the concern and then flushes the collected membership changes into routes
// and upstream reports. Everything with rules of its own lives elsewhere:
//   admission.ts     which senders, groups and sources are accepted (pure; returns a reason)
//   log-throttle.ts  the one throttle for log lines that traffic repeats
//   membership.ts    RFC 3376 router state per downstream (its 6.4 rows: membership-table.ts)
//   querier.ts, upstream.ts, routes.ts, merge.ts (RFC 4605 4.1), config-diff.ts (SIGHUP)
//
// Decisions worth knowing:
// - Our own packets looped back by the raw socket (source = one of our addresses) are ignored.
// - Reports heard on an upstream are other hosts' business; the Router Alert option is not
//   required (some IPTV set-top boxes omit it).
// - Changes are collected per call and applied once at its end (flush), so a batch of records
//   in one report becomes one upstream report, and a leave's route delete and upstream leave
//   land in the same effect batch.
import { formatIpv4, isSourceSpecificMulticast } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { IgmpMessage, KernelUpcall } from '../igmp/types.ts';
import type { DaemonConfig, DownstreamLimits, PhyintConfig } from '../config/types.ts';
import type { Effect, InterfaceInfo, RouteOutput } from './effects.ts';
import type { CoreContext } from './context.ts';
import { TimerQueue } from './timers.ts';
import { DEFAULT_SETTINGS, REPEATED_LOG_INTERVAL_MS } from './settings.ts';
import type { ProtocolSettings } from './settings.ts';
import { groupAllowed } from './filters.ts';
import { formatCidr, inInterfaceNetworks, refuseAnySourceRequest, refuseBeyondLimits, refuseReportedGroup, refuseSender, refuseTtl, refuseUpcallGroup, refuseUpcallSource } from './admission.ts';
import type { Refusal, RefusalCounter } from './admission.ts';
import { LogThrottle } from './log-throttle.ts';
import { interfaceChange } from './config-diff.ts';
import { mergeSubscriptions } from './merge.ts';
import { Membership } from './membership.ts';
import type { GroupSnapshot, Subscription } from './membership.ts';
import { LinkSettings, linkContext } from './link-settings.ts';
import { Querier } from './querier.ts';
import type { QuerierSnapshot } from './querier.ts';
import { UpstreamHost } from './upstream.ts';
import type { DesiredState, UpstreamSnapshot } from './upstream.ts';
import { RouteTable } from './routes.ts';
import type { RouteSnapshot } from './routes.ts';

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
  /** IP TTL; on a downstream only 1 counts unless `igmpttl any`. */
  readonly ttl: number;
}

/** What a downstream refused since it came up, per cause, and the latest refusal. */
export interface RefusedSnapshot {
  readonly groupsPerInterface: number;
  readonly groupsPerHost: number;
  readonly sourcesPerGroup: number;
  readonly ttl: number;
  readonly lastHost: string | null;
  readonly lastAt: number | null;
}

export type UpcallInfo = Pick<KernelUpcall, 'kind' | 'source' | 'group'>;

export interface ProxySnapshot {
  readonly now: number;
  readonly quickLeave: boolean;
  readonly settings: ProtocolSettings;
  /** The limits every downstream applies, and whether IGMP must have TTL 1 there. */
  readonly limits: DownstreamLimits & { readonly requireTtlOne: boolean };
  /** Running timers; a number that grows without bound would be a leak. */
  readonly timers: number;
  readonly downstreams: readonly {
    readonly name: string;
    readonly ifindex: number;
    readonly address: string;
    readonly prefixLength: number;
    readonly querier: QuerierSnapshot;
    readonly groups: readonly GroupSnapshot[];
    readonly refused: RefusedSnapshot;
  }[];
  readonly upstreams: readonly ({
    readonly name: string; readonly ifindex: number; readonly address: string; readonly prefixLength: number;
    /** Streams refused lately because their source is outside the subnet and every altnet. */
    readonly refusedSources: readonly RefusedSource[];
  } & UpstreamSnapshot)[];
  readonly routes: readonly RouteSnapshot[];
}

export interface RefusedSource {
  readonly source: string;
  readonly group: string;
  /** When the kernel last asked for it (monotonic ms). */
  readonly at: number;
}

interface Downstream {
  readonly kind: 'downstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly querier: Querier;
  readonly membership: Membership;
  readonly refused: Record<RefusalCounter, number>;
  lastRefusal: { readonly host: Ipv4; readonly at: number } | undefined;
}

interface Upstream {
  readonly kind: 'upstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly host: UpstreamHost;
}

export class IgmpProxyCore {
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
  private readonly logThrottle = new LogThrottle(REPEATED_LOG_INTERVAL_MS);
  /** See stateGeneration; set by any event that changed what it counts. */
  private stateChanged = false;
  private generation = 0;

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

  // ---- events -----------------------------------------------------------------------------

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
        if (renumbered) this.stateChanged = true;
        this.refreshOwnAddresses();
        if (renumbered && existing.kind === 'upstream') {
          const upstream = existing;
          this.routes.retryRefused(info.name, (source) => inInterfaceNetworks(upstream.info, upstream.config, source));
        }
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
        const name = iface.info.name;
        const next = this.phyint(name);
        const change = interfaceChange(iface.config, next);
        if (change.kind === 'restart') {
          this.ctx.log('info', `${name}: configuration changed; restarting it`);
          this.tearDown(name, true);
          this.upstreamHosts.get(name)?.destroy();
          this.upstreamHosts.delete(name);
          if (change.bringUpAgain) this.bringUp(iface.info, next!);
          continue;
        }
        iface.config = next!;
        if (iface.kind === 'downstream' && change.thresholdChanged) {
          for (const group of iface.membership.groupAddresses()) this.dirtyGroups.add(group);
        }
        if (iface.kind === 'upstream' && change.rateLimitChanged) this.routes.refreshInput(name);
      }
    });
  }

  /** Deletes every route and leaves every joined group on every upstream. */
  shutdown(): Effect[] {
    return this.run(() => {
      this.routes.deleteAll();
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

  /**
   * Grows (O(1) to read) whenever an event changed what an admin watches in the status
   * document: interfaces, groups and their receivers, routes, upstream joins, queriers and
   * the queries heard upstream. Timer runs and report refreshes that change none of it leave
   * it alone, so the daemon can rewrite the document on changes only.
   */
  get stateGeneration(): number {
    return this.generation;
  }

  snapshot(): ProxySnapshot {
    return {
      now: this.deps.now(),
      quickLeave: this.config.quickLeave,
      settings: this.ctx.settings,
      limits: { ...this.config.limits, requireTtlOne: this.config.requireTtlOne },
      timers: this.timers.size,
      downstreams: [...this.downstreams.values()].map((d) => ({
        name: d.info.name,
        ifindex: d.info.ifindex,
        address: formatIpv4(d.info.address),
        prefixLength: d.info.prefixLength,
        querier: d.querier.snapshot(),
        groups: d.membership.snapshot(),
        refused: {
          ...d.refused,
          lastHost: d.lastRefusal === undefined ? null : formatIpv4(d.lastRefusal.host),
          lastAt: d.lastRefusal?.at ?? null,
        },
      })),
      upstreams: [...this.upstreams.values()].map((u) => ({
        name: u.info.name,
        ifindex: u.info.ifindex,
        address: formatIpv4(u.info.address),
        prefixLength: u.info.prefixLength,
        refusedSources: this.routes.recentRefusals(u.info.name)
          .map((entry) => ({ source: formatIpv4(entry.source), group: formatIpv4(entry.group), at: entry.at })),
        ...u.host.snapshot(),
      })),
      routes: this.routes.snapshot(),
    };
  }

  // ---- dispatch: IGMP ----------------------------------------------------------------

  private handleIgmp(ifname: string, packet: PacketInfo, message: IgmpMessage): void {
    if (this.ownAddresses.has(packet.source)) return; // our own packet, looped back
    const upstream = this.upstreams.get(ifname);
    const downstream = this.downstreams.get(ifname);
    if (upstream === undefined && downstream === undefined) {
      this.ctx.log('debug', `IGMP ${message.type} from ${formatIpv4(packet.source)} on ${ifname}, which is not proxied; ignored`);
      return;
    }
    // Only a downstream's IGMP must be link-local; the provider's queries upstream are not ours to judge.
    if (downstream !== undefined && this.refuses(downstream, packet.source, refuseTtl(ifname, this.config.requireTtlOne, packet.source, packet.ttl, message.type))) return;
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
    const host = packet.source;
    if (!this.admits(refuseSender(downstream.info, downstream.config, host))) return;
    const name = downstream.info.name;
    const membership = downstream.membership;
    const groupAdmitted = (group: Ipv4): boolean => this.admits(refuseReportedGroup(name, downstream.config, group, host));
    const anySourceAdmitted = (group: Ipv4, what: string): boolean => this.admits(refuseAnySourceRequest(name, group, host, what));
    const withinLimits = (group: Ipv4, joins: boolean, sources: readonly Ipv4[]): boolean => {
      const { held, added } = membership.sourceCounts(group, sources);
      const counts = {
        groups: membership.groupCount,
        groupExists: membership.hasGroup(group),
        hostGroups: membership.hostGroupCount(host),
        hostIsMember: membership.isHostMember(group, host),
        sources: held,
        addedSources: added,
      };
      return !this.refuses(downstream, host, refuseBeyondLimits(name, this.config.limits, counts, group, host, joins));
    };
    switch (message.type) {
      case 'v1-report':
        if (groupAdmitted(message.group) && anySourceAdmitted(message.group, 'IGMPv1 report') && withinLimits(message.group, true, [])) membership.v1Report(host, message.group);
        break;
      case 'v2-report':
        if (groupAdmitted(message.group) && anySourceAdmitted(message.group, 'IGMPv2 report') && withinLimits(message.group, true, [])) membership.v2Report(host, message.group);
        break;
      case 'v2-leave':
        // No v1/v2 membership can exist in the SSM range, so there is nothing to leave.
        if (groupAdmitted(message.group) && !isSourceSpecificMulticast(message.group)) membership.v2Leave(host, message.group);
        break;
      case 'v3-report':
        for (const record of message.records) {
          if (!groupAdmitted(record.group)) continue;
          const anySource = record.recordType === 'is-exclude' || record.recordType === 'to-exclude';
          if (anySource && !anySourceAdmitted(record.group, 'EXCLUDE-mode (any source) record')) continue;
          // A record asks for traffic when it is EXCLUDE-mode or names sources to receive.
          const joins = anySource || (record.recordType !== 'block' && record.sources.length > 0);
          // A record that neither joins nor touches an existing group changes nothing (membership.ts).
          if ((joins || membership.hasGroup(record.group)) && !withinLimits(record.group, joins, record.sources)) continue;
          membership.v3Record(host, record.recordType, record.group, record.sources);
        }
        break;
    }
  }

  // ---- dispatch: upcalls --------------------------------------------------------------

  private handleUpcall(ifname: string, upcall: UpcallInfo): void {
    const { source, group } = upcall;
    const pair = `(${formatIpv4(source)}, ${formatIpv4(group)})`;
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
    if (!this.admits(refuseUpcallGroup(ifname, upstream.config, source, group))) return;
    const sourceRefusal = refuseUpcallSource(upstream.info, upstream.config, source, group);
    if (sourceRefusal !== undefined) {
      this.routes.refuse(ifname, source, group);
      this.admits(sourceRefusal);
      return;
    }
    this.routes.resolve(ifname, source, group);
  }

  /** Logs a refusal (throttled when it has a key); true when there is none. */
  private admits(refusal: Refusal | undefined): boolean {
    if (refusal === undefined) return true;
    if (refusal.throttleKey === undefined || this.logThrottle.admit(refusal.throttleKey, this.deps.now())) this.ctx.log(refusal.level, refusal.message);
    return false;
  }

  /** admits() for a downstream that also counts the refusal; true when refused. */
  private refuses(downstream: Downstream, host: Ipv4, refusal: Refusal | undefined): boolean {
    if (refusal === undefined) return false;
    if (refusal.counter !== undefined) {
      downstream.refused[refusal.counter]++;
      downstream.lastRefusal = { host, at: this.deps.now() };
    }
    this.admits(refusal);
    return true;
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
    this.stateChanged = true;
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
        membersChanged: () => {
          this.stateChanged = true;
        },
      });
      const refused = { groupsPerInterface: 0, groupsPerHost: 0, sourcesPerGroup: 0, ttl: 0 };
      const downstream: Downstream = { kind: 'downstream', info, config, querier, membership, refused, lastRefusal: undefined };
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
    this.stateChanged = true;
    const downstream = this.downstreams.get(name);
    if (downstream !== undefined) {
      downstream.querier.stop();
      for (const group of downstream.membership.clear()) this.dirtyGroups.add(group);
      this.downstreams.delete(name);
    }
    const upstream = this.upstreams.get(name);
    if (upstream !== undefined) {
      this.routes.dropInput(name);
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

  // ---- flush ------------------------------------------------------------------------------

  private run(action: () => void): Effect[] {
    this.effects = [];
    const queriersBefore = this.querierKey();
    action();
    this.flush();
    const effects = this.effects;
    this.effects = [];
    if (this.stateChanged || effects.some((e) => e.type === 'set-route' || e.type === 'delete-route') || this.querierKey() !== queriersBefore) {
      this.generation++;
    }
    this.stateChanged = false;
    return effects;
  }

  /** Who is querier on each interface and when upstream last asked: O(interfaces). */
  private querierKey(): string {
    let key = '';
    for (const d of this.downstreams.values()) key += `${d.info.name}:${d.querier.isQuerier}:${d.querier.snapshot().otherQuerier};`;
    for (const u of this.upstreams.values()) key += `${u.info.name}:${u.host.version}:${u.host.querierActivity.lastQueryHeardAt};`;
    return key;
  }

  /** Applies the collected membership changes to routes and upstream reports. */
  private flush(): void {
    if (this.dirtyGroups.size === 0) return;
    this.stateChanged = true;
    const groups = [...this.dirtyGroups].sort((a, b) => a - b);
    this.dirtyGroups.clear();
    const desired = new Map<Ipv4, Subscription | undefined>();
    for (const group of groups) {
      this.routes.refreshGroup(group);
      desired.set(group, mergeSubscriptions([...this.downstreams.values()].map((d) => d.membership.subscription(group))));
    }
    for (const upstream of this.upstreams.values()) {
      const changes: DesiredState[] = [];
      for (const [group, state] of desired) {
        changes.push({ group, state: state !== undefined && groupAllowed(upstream.config.groupFilters, group) ? state : undefined });
      }
      upstream.host.apply(changes);
    }
  }
}
