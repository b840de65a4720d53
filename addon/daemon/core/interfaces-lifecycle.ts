// The proxied interfaces and their lifecycle: bring-up (a downstream gets its querier and
// membership, an upstream its host side), tear-down, a reload's keep/refresh/restart per
// interface (config-diff.ts decides which), and shutdown. What this changes elsewhere goes
// through a small port: groups whose forwarding must be recomputed, and the routes of an
// upstream that went, got a new address or a new rate limit.
//
// An upstream's host state (UpstreamHost) outlives interfaceDown, so a PPPoE reconnect keeps
// talking IGMPv2 to an ISP that queries in v2; only a restart by a reload forgets it.
import type { Ipv4 } from '../net/ipv4.ts';
import type { IgmpMessage } from '../igmp/types.ts';
import type { PhyintConfig } from '../config/types.ts';
import type { InterfaceInfo } from './effects.ts';
import type { CoreContext } from './context.ts';
import { formatCidr, inInterfaceNetworks } from './admission.ts';
import type { RefusalCounter } from './admission.ts';
import { interfaceChange } from './config-diff.ts';
import { Membership } from './membership.ts';
import { LinkSettings, linkContext } from './link-settings.ts';
import { Querier } from './querier.ts';
import { UpstreamHost } from './upstream.ts';
import type { RouteTable } from './routes.ts';
import { HostReportRate } from './host-report-rate.ts';
import { HOST_REPORT_BURST, HOST_REPORT_REFILL_MS, REPEATED_LOG_INTERVAL_MS } from './settings.ts';
import { LogThrottle } from './log-throttle.ts';

export interface Downstream {
  readonly kind: 'downstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly querier: Querier;
  readonly membership: Membership;
  readonly refused: Record<RefusalCounter, number>;
  /** Each host's share of the datagrams the daemon looks at (host-report-rate.ts). */
  readonly reportRate: HostReportRate;
  /** When each host's datagrams dropped unread for its share were last logged (once a minute per host). */
  readonly droppedUnreadLog: LogThrottle<Ipv4>;
  lastRefusal: { readonly host: Ipv4; readonly at: number } | undefined;
}

export interface Upstream {
  readonly kind: 'upstream';
  info: InterfaceInfo;
  config: PhyintConfig;
  readonly host: UpstreamHost;
}

/** What bringing interfaces up and down changes outside them. */
export interface LifecyclePort {
  /** `group`'s routes and upstream state must be recomputed at the end of the event. */
  changed(group: Ipv4): void;
  /** Something the status document shows changed: an interface, its address, its receivers. */
  stateChanged(): void;
  readonly routes: Pick<RouteTable, 'dropInput' | 'retryRefused' | 'refreshInput'>;
}

export class ProxiedInterfaces {
  readonly downstreams = new Map<string, Downstream>();
  readonly upstreams = new Map<string, Upstream>();
  /** Upstream host state outlives interfaceDown, to remember the querier's version. */
  private readonly upstreamHosts = new Map<string, UpstreamHost>();
  private ownAddresses = new Set<Ipv4>();
  private readonly ctx: CoreContext;
  private readonly port: LifecyclePort;

  constructor(ctx: CoreContext, port: LifecyclePort) {
    this.ctx = ctx;
    this.port = port;
  }

  /** One of our interfaces' addresses: a packet from it is our own, looped back. */
  isOwnAddress(address: Ipv4): boolean {
    return this.ownAddresses.has(address);
  }

  /** Upstream `name`'s host state, also while it is down; undefined when never up. */
  upstreamHost(name: string): UpstreamHost | undefined {
    return this.upstreamHosts.get(name);
  }

  /**
   * `info` is present, up and has its VIF; `config` is its phyint (undefined: not configured).
   * Again with the same ifindex and role only takes the (maybe new) address; a new ifindex
   * (PPP re-created) is down + up.
   */
  up(info: InterfaceInfo, config: PhyintConfig | undefined): void {
    if (config === undefined || config.role === 'disabled') {
      this.ctx.log('debug', `${info.name}: not an upstream or downstream in the configuration; ignored`);
      return;
    }
    const existing = this.downstreams.get(info.name) ?? this.upstreams.get(info.name);
    if (existing !== undefined && existing.info.ifindex === info.ifindex && existing.config.role === config.role) {
      const renumbered = existing.info.address !== info.address || existing.info.prefixLength !== info.prefixLength;
      existing.info = info;
      if (renumbered) this.port.stateChanged();
      this.refreshOwnAddresses();
      if (renumbered && existing.kind === 'upstream') {
        const upstream = existing;
        // Upcalls refused while the old address did not cover their source may pass now.
        this.port.routes.retryRefused(info.name, (source) =>
          inInterfaceNetworks(upstream.info, upstream.config, source),
        );
      }
      return;
    }
    if (existing !== undefined) this.tearDown(info.name, false);
    this.bringUp(info, config);
  }

  /** The interface is gone or down: its memberships and the routes through it go. */
  down(name: string): void {
    if (!this.downstreams.has(name) && !this.upstreams.has(name)) return;
    this.ctx.log('info', `${name}: down`);
    this.tearDown(name, false);
  }

  /** A reload: each interface is kept, has its routes refreshed, or restarts (config-diff.ts). */
  reconfigure(configOf: (name: string) => PhyintConfig | undefined): void {
    const current: (Downstream | Upstream)[] = [...this.downstreams.values(), ...this.upstreams.values()];
    for (const iface of current) {
      const name = iface.info.name;
      const next = configOf(name);
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
        for (const group of iface.membership.groupAddresses()) this.port.changed(group);
      }
      if (iface.kind === 'upstream' && change.rateLimitChanged) this.port.routes.refreshInput(name);
    }
  }

  /** Leaves every joined group on every upstream and forgets all interfaces. */
  shutdown(): void {
    for (const upstream of this.upstreams.values()) upstream.host.leaveAll();
    for (const host of this.upstreamHosts.values()) host.destroy();
    for (const downstream of this.downstreams.values()) {
      downstream.querier.stop();
      downstream.membership.clear();
    }
    this.downstreams.clear();
    this.upstreams.clear();
    this.upstreamHosts.clear();
    this.refreshOwnAddresses();
  }

  private bringUp(info: InterfaceInfo, config: PhyintConfig): void {
    this.port.stateChanged();
    this.ctx.log('info', `${info.name}: up as ${config.role} (${formatCidr(info.address, info.prefixLength)})`);
    if (config.role === 'downstream') this.bringUpDownstream(info, config);
    else this.bringUpUpstream(info, config);
  }

  private bringUpDownstream(info: InterfaceInfo, config: PhyintConfig): void {
    const name = info.name;
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
      changed: (group) => this.port.changed(group),
      membersChanged: () => this.port.stateChanged(),
    });
    const refused = { groupsPerInterface: 0, groupsPerHost: 0, sourcesPerGroup: 0, ttl: 0, reportRate: 0 };
    const reportRate = new HostReportRate(HOST_REPORT_BURST, HOST_REPORT_REFILL_MS);
    const downstream: Downstream = {
      kind: 'downstream',
      info,
      config,
      querier,
      membership,
      refused,
      reportRate,
      droppedUnreadLog: new LogThrottle<Ipv4>(REPEATED_LOG_INTERVAL_MS),
      lastRefusal: undefined,
    };
    holder.d = downstream;
    this.downstreams.set(name, downstream);
    this.refreshOwnAddresses();
    querier.start();
  }

  private bringUpUpstream(info: InterfaceInfo, config: PhyintConfig): void {
    const name = info.name;
    let host = this.upstreamHosts.get(name);
    if (host === undefined) {
      host = new UpstreamHost(this.ctx, {
        name,
        send: (message, destination) => {
          const u = this.upstreams.get(name);
          if (u !== undefined)
            this.ctx.emit({ type: 'send-igmp', interface: name, source: u.info.address, destination, message });
        },
      });
      this.upstreamHosts.set(name, host);
    }
    this.upstreams.set(name, { kind: 'upstream', info, config, host });
    this.refreshOwnAddresses();
    // Join everything the downstreams want, at once.
    for (const downstream of this.downstreams.values()) {
      for (const group of downstream.membership.groupAddresses()) this.port.changed(group);
    }
  }

  /** graceful: the interface is still there (reconfigure), so tell the upstream router we leave. */
  private tearDown(name: string, graceful: boolean): void {
    this.port.stateChanged();
    const downstream = this.downstreams.get(name);
    if (downstream !== undefined) {
      downstream.querier.stop();
      for (const group of downstream.membership.clear()) this.port.changed(group);
      this.downstreams.delete(name);
    }
    const upstream = this.upstreams.get(name);
    if (upstream !== undefined) {
      this.port.routes.dropInput(name);
      if (graceful) upstream.host.leaveAll();
      else upstream.host.reset();
      this.upstreams.delete(name);
    }
    this.refreshOwnAddresses();
  }

  private refreshOwnAddresses(): void {
    const addresses = new Set<Ipv4>();
    for (const iface of [...this.downstreams.values(), ...this.upstreams.values()])
      if (iface.info.address !== 0) addresses.add(iface.info.address);
    this.ownAddresses = addresses;
  }
}
