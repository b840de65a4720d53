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
//   host-report-rate.ts  each host's share of the datagrams looked at (before parsing)
//   log-throttle.ts  the one throttle for log lines that traffic repeats
//   membership.ts    RFC 3376 router state per downstream (its 6.4 rows: membership-table.ts)
//   interfaces-lifecycle.ts  bring-up, tear-down, reload (config-diff.ts) and shutdown of interfaces
//   snapshot.ts      the status document
//   querier.ts, upstream.ts, routes.ts, merge.ts (RFC 4605 4.1)
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
import type { DaemonConfig, PhyintConfig } from '../config/types.ts';
import type { Effect, InterfaceInfo, RouteOutput } from './effects.ts';
import type { CoreContext } from './context.ts';
import { TimerQueue } from './timers.ts';
import { DEFAULT_SETTINGS, HOST_REPORT_BURST, HOST_REPORT_REFILL_MS, REPEATED_LOG_INTERVAL_MS } from './settings.ts';
import type { ProtocolSettings } from './settings.ts';
import { groupAllowed } from './filters.ts';
import {
  refuseAnySourceRequest,
  refuseBeyondLimits,
  refuseReportedGroup,
  refuseSender,
  reportRateMessage,
  refuseTtl,
  refuseUpcallGroup,
  refuseUpcallSource,
} from './admission.ts';
import type { Refusal } from './admission.ts';
import { LogThrottle } from './log-throttle.ts';
import { mergeSubscriptions } from './merge.ts';
import type { Subscription } from './membership.ts';
import type { DesiredState, UpstreamHost } from './upstream.ts';
import { ProxiedInterfaces } from './interfaces-lifecycle.ts';
import type { Downstream } from './interfaces-lifecycle.ts';
import { RouteTable } from './routes.ts';
import { buildSnapshot } from './snapshot.ts';
import type { ProxySnapshot } from './snapshot.ts';

export type { ProxySnapshot } from './snapshot.ts';

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

export type UpcallInfo = Pick<KernelUpcall, 'kind' | 'source' | 'group'>;

export class IgmpProxyCore {
  private config: DaemonConfig;
  private readonly deps: ProxyDeps;
  private readonly timers = new TimerQueue();
  private readonly ctx: CoreContext;
  private effects: Effect[] = [];
  private readonly routes: RouteTable;
  private readonly interfaces: ProxiedInterfaces;
  private readonly dirtyGroups = new Set<Ipv4>();
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
      rateLimitOf: (input) => this.interfaces.upstreams.get(input)?.config.rateLimit ?? 0,
    });
    this.interfaces = new ProxiedInterfaces(this.ctx, {
      changed: (group) => this.dirtyGroups.add(group),
      stateChanged: () => {
        this.stateChanged = true;
      },
      routes: this.routes,
    });
  }

  // ---- events -----------------------------------------------------------------------------

  /** A configured interface is present, up and has its VIF. Calling it again is harmless. */
  interfaceUp(info: InterfaceInfo): Effect[] {
    return this.run(() => this.interfaces.up(info, this.phyint(info.name)));
  }

  /** The interface is gone or down: its memberships and the routes through it go. */
  interfaceDown(name: string): Effect[] {
    return this.run(() => this.interfaces.down(name));
  }

  /** An IGMP message that the kernel says arrived on `ifname`. */
  receiveIgmp(ifname: string, packet: PacketInfo, message: IgmpMessage): Effect[] {
    return this.run(() => this.handleIgmp(ifname, packet, message));
  }

  /**
   * Before a datagram from `source` that arrived on `ifname` is parsed: undefined to go on,
   * or the effects of dropping it unread (a throttled log line) when `ifname` is a downstream
   * and this host is beyond its share (host-report-rate.ts). Cheap: it runs for every datagram.
   */
  screenDatagram(ifname: string, source: Ipv4): Effect[] | undefined {
    const downstream = this.interfaces.downstreams.get(ifname);
    if (downstream === undefined) return undefined;
    const now = this.deps.now();
    if (downstream.reportRate.admit(source, now)) return undefined;
    // Counted like the other refusals; the line is built only when the throttle lets it out.
    downstream.refused.reportRate++;
    downstream.lastRefusal = { host: source, at: now };
    if (!downstream.droppedUnreadLog.admit(source, now)) return [];
    return [
      {
        type: 'log',
        level: 'warning',
        message: reportRateMessage(ifname, source, 1000 / HOST_REPORT_REFILL_MS, HOST_REPORT_BURST),
      },
    ];
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
      this.interfaces.reconfigure((name) => this.phyint(name));
    });
  }

  /** Deletes every route and leaves every joined group on every upstream. */
  shutdown(): Effect[] {
    return this.run(() => {
      this.routes.deleteAll();
      this.interfaces.shutdown();
      this.dirtyGroups.clear();
    });
  }

  /** Routes with receivers, for the stall alarm; empty when nobody watches anything. */
  routesWithReceivers(): { readonly source: Ipv4; readonly group: Ipv4; readonly input: string }[] {
    return [...this.routes.installed()];
  }

  /** Query activity heard on upstream `name` (kept across down/up), undefined when unknown. */
  upstreamQuerierActivity(name: string): UpstreamHost['querierActivity'] | undefined {
    return this.interfaces.upstreamHost(name)?.querierActivity;
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

  /** The state as one JSON-able document (SIGUSR1, the status file); built in snapshot.ts. */
  snapshot(): ProxySnapshot {
    return buildSnapshot({
      now: this.deps.now(),
      config: this.config,
      settings: this.ctx.settings,
      timerCount: this.timers.size,
      downstreams: this.interfaces.downstreams.values(),
      upstreams: this.interfaces.upstreams.values(),
      routes: this.routes,
    });
  }

  // ---- dispatch: IGMP ----------------------------------------------------------------

  private handleIgmp(ifname: string, packet: PacketInfo, message: IgmpMessage): void {
    if (this.interfaces.isOwnAddress(packet.source)) return; // our own packet, looped back
    const upstream = this.interfaces.upstreams.get(ifname);
    const downstream = this.interfaces.downstreams.get(ifname);
    if (upstream === undefined && downstream === undefined) {
      this.ctx.log(
        'debug',
        `IGMP ${message.type} from ${formatIpv4(packet.source)} on ${ifname}, which is not proxied; ignored`,
      );
      return;
    }
    // Only a downstream's IGMP must be link-local; the provider's queries upstream are not ours to judge.
    if (
      downstream !== undefined &&
      this.refuses(
        downstream,
        packet.source,
        refuseTtl(ifname, this.config.requireTtlOne, packet.source, packet.ttl, message.type),
      )
    )
      return;
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
      this.ctx.log(
        'debug',
        `${ifname}: ${message.type} from ${formatIpv4(packet.source)} on an upstream; not ours to handle`,
      );
      return;
    }
    const host = packet.source;
    if (!this.admits(refuseSender(downstream.info, downstream.config, host))) return;
    const name = downstream.info.name;
    const membership = downstream.membership;
    const groupAdmitted = (group: Ipv4): boolean =>
      this.admits(refuseReportedGroup(name, downstream.config, group, host));
    const anySourceAdmitted = (group: Ipv4, what: string): boolean =>
      this.admits(refuseAnySourceRequest(name, group, host, what));
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
    // An IGMPv1/v2 report joins every source of its group, so it passes the checks of an EXCLUDE({}) join.
    const anySourceJoinAdmitted = (group: Ipv4, what: string): boolean =>
      groupAdmitted(group) && anySourceAdmitted(group, what) && withinLimits(group, true, []);
    switch (message.type) {
      case 'v1-report':
        if (anySourceJoinAdmitted(message.group, 'IGMPv1 report')) membership.v1Report(host, message.group);
        break;
      case 'v2-report':
        if (anySourceJoinAdmitted(message.group, 'IGMPv2 report')) membership.v2Report(host, message.group);
        break;
      case 'v2-leave':
        // No v1/v2 membership can exist in the SSM range, so there is nothing to leave.
        if (groupAdmitted(message.group) && !isSourceSpecificMulticast(message.group))
          membership.v2Leave(host, message.group);
        break;
      case 'v3-report':
        for (const record of message.records) {
          if (!groupAdmitted(record.group)) continue;
          const anySource = record.recordType === 'is-exclude' || record.recordType === 'to-exclude';
          if (anySource && !anySourceAdmitted(record.group, 'EXCLUDE-mode (any source) record')) continue;
          // A record asks for traffic when it is EXCLUDE-mode or names sources to receive.
          const joins = anySource || (record.recordType !== 'block' && record.sources.length > 0);
          // A record that neither joins nor touches an existing group changes nothing (membership.ts).
          if ((joins || membership.hasGroup(record.group)) && !withinLimits(record.group, joins, record.sources))
            continue;
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
    if (this.interfaces.downstreams.has(ifname)) {
      this.ctx.log('debug', `${ifname}: multicast ${pair} from a downstream is never routed`);
      return;
    }
    const upstream = this.interfaces.upstreams.get(ifname);
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
    if (refusal.throttleKey === undefined || this.logThrottle.admit(refusal.throttleKey, this.deps.now()))
      this.ctx.log(refusal.level, refusal.message);
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
    for (const downstream of this.interfaces.downstreams.values()) {
      if (downstream.membership.forwards(group, source))
        outputs.push({ interface: downstream.info.name, threshold: downstream.config.threshold });
    }
    return outputs.sort((a, b) => (a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0));
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
    const routesChanged = effects.some((e) => e.type === 'set-route' || e.type === 'delete-route');
    if (this.stateChanged || routesChanged || this.querierKey() !== queriersBefore) this.generation++;
    this.stateChanged = false;
    return effects;
  }

  /** Who is querier on each interface and when upstream last asked: O(interfaces). */
  private querierKey(): string {
    let key = '';
    for (const d of this.interfaces.downstreams.values())
      key += `${d.info.name}:${d.querier.isQuerier}:${d.querier.otherQuerierAddress};`;
    for (const u of this.interfaces.upstreams.values())
      key += `${u.info.name}:${u.host.version}:${u.host.querierActivity.lastQueryHeardAt};`;
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
      desired.set(
        group,
        mergeSubscriptions([...this.interfaces.downstreams.values()].map((d) => d.membership.subscription(group))),
      );
    }
    for (const upstream of this.interfaces.upstreams.values()) {
      const changes: DesiredState[] = [];
      for (const [group, state] of desired) {
        changes.push({
          group,
          state: state !== undefined && groupAllowed(upstream.config.groupFilters, group) ? state : undefined,
        });
      }
      upstream.host.apply(changes);
    }
  }
}
