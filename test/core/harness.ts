// Test harness for the pure proxy core: an IgmpProxyCore driven by a fake clock and a seeded PRNG,
// recording every effect with the time it was produced, plus a model of what the kernel's
// MFC and each upstream router would believe after seeing those effects.
import { formatIpv4, makeCidr, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import type { Cidr, Ipv4 } from '../../addon/daemon/net/ipv4.ts';
import type {
  DaemonConfig,
  DownstreamLimits,
  GroupFilter,
  InterfaceRole,
  PhyintConfig,
} from '../../addon/daemon/config/types.ts';
import type { Effect, SendIgmpEffect, SetRouteEffect } from '../../addon/daemon/core/effects.ts';
import type {
  GroupRecord,
  GroupRecordType,
  IgmpMessage,
  IgmpQuery,
  UpcallKind,
} from '../../addon/daemon/igmp/types.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import type { ProtocolSettings } from '../../addon/daemon/core/settings.ts';
import { mulberry32 } from '../../scripts/lab/prng.ts';

export function ip(text: string): Ipv4 {
  const value = parseIpv4(text);
  if (value === undefined) throw new Error(`bad address ${text}`);
  return value;
}

export function cidr(text: string): Cidr {
  const [address, length] = text.split('/');
  return makeCidr(ip(address!), length === undefined ? 32 : Number(length));
}

const here = { file: 'test.conf', line: 1, column: 1 };

export interface PhyintOptions {
  rateLimit?: number;
  threshold?: number;
  altnets?: string[];
  /** [action, range] in file order: 'allow' = whitelist, 'deny' = blacklist. */
  filters?: [GroupFilter['action'], string][];
}

export function phyint(name: string, role: InterfaceRole, options: PhyintOptions = {}): PhyintConfig {
  return {
    name,
    role,
    rateLimit: options.rateLimit ?? 0,
    threshold: options.threshold ?? 1,
    altnets: (options.altnets ?? []).map(cidr),
    groupFilters: (options.filters ?? []).map(([action, range]) => ({ action, range: cidr(range), location: here })),
    location: here,
  };
}

export function daemonConfig(
  interfaces: PhyintConfig[],
  options: { quickLeave?: boolean; limits?: Partial<DownstreamLimits>; requireTtlOne?: boolean } = {},
): DaemonConfig {
  return {
    file: 'test.conf',
    quickLeave: options.quickLeave ?? false,
    hashTableSize: undefined,
    defaultDown: false,
    rescanVif: false,
    chroot: undefined,
    user: undefined,
    stallAlarmSeconds: null,
    rpFilter: 'keep',
    limits: { groupsPerInterface: 2048, groupsPerHost: 512, sourcesPerGroup: 64, ...options.limits },
    requireTtlOne: options.requireTtlOne ?? true,
    interfaces,
  };
}

/** The tests' one seeded PRNG (test/helpers/prng.ts). */
export const seededRandom = mulberry32;

// ---- messages -------------------------------------------------------------------------

export const v1Report = (group: string): IgmpMessage => ({ type: 'v1-report', group: ip(group) });
export const v2Report = (group: string): IgmpMessage => ({ type: 'v2-report', group: ip(group) });
export const v2Leave = (group: string): IgmpMessage => ({ type: 'v2-leave', group: ip(group) });
export function record(recordType: GroupRecordType, group: string, sources: string[] = []): GroupRecord {
  return { recordType, group: ip(group), sources: sources.map(ip) };
}
export const v3Report = (...records: GroupRecord[]): IgmpMessage => ({ type: 'v3-report', records });
export function v1Query(): IgmpQuery {
  return { type: 'query', version: 1, maxResponseMs: 10_000, group: 0 };
}
export function v2Query(group = '0.0.0.0', maxResponseMs = 10_000): IgmpQuery {
  return { type: 'query', version: 2, maxResponseMs, group: ip(group) };
}
export function v3Query(
  group = '0.0.0.0',
  maxResponseMs = 10_000,
  sources: string[] = [],
  suppressRouterSide = false,
): IgmpQuery {
  return {
    type: 'query',
    version: 3,
    maxResponseMs,
    group: ip(group),
    v3: { suppressRouterSide, robustness: 2, queryIntervalSeconds: 125, sources: sources.map(ip) },
  };
}

// ---- the simulation ---------------------------------------------------------------------

export interface TimedEffect {
  readonly at: number;
  readonly effect: Effect;
}

export interface Sent {
  readonly at: number;
  readonly effect: SendIgmpEffect;
}

/** What an upstream router would believe from our reports (IGMPv3 semantics, v2 = EXCLUDE {}). */
export interface ObservedState {
  mode: 'include' | 'exclude';
  sources: Set<Ipv4>;
}

export class SimulatedProxy {
  clock = 0;
  readonly proxy: IgmpProxyCore;
  readonly log: TimedEffect[] = [];
  /** The kernel's MFC as our effects leave it, keyed "S G". */
  readonly kernelRoutes = new Map<string, SetRouteEffect>();
  /** Per upstream interface, per group: the state our reports announced. */
  readonly upstreamView = new Map<string, Map<Ipv4, ObservedState>>();
  readonly addresses = new Map<string, Ipv4>();
  private nextIfindex = 2;

  constructor(config: DaemonConfig, options: { seed?: number; settings?: ProtocolSettings } = {}) {
    const random = seededRandom(options.seed ?? 1);
    this.proxy = new IgmpProxyCore(config, {
      now: () => this.clock,
      random,
      ...(options.settings === undefined ? {} : { settings: options.settings }),
    });
  }

  private record(effects: Effect[]): Effect[] {
    for (const effect of effects) {
      this.log.push({ at: this.clock, effect });
      if (effect.type === 'set-route') this.kernelRoutes.set(routeKey(effect.source, effect.group), effect);
      if (effect.type === 'delete-route') {
        const key = routeKey(effect.source, effect.group);
        if (!this.kernelRoutes.has(key)) throw new Error(`delete-route for a route that does not exist: ${key}`);
        this.kernelRoutes.delete(key);
      }
      if (effect.type === 'send-igmp') this.observe(effect);
    }
    return effects;
  }

  private observe(effect: SendIgmpEffect): void {
    const view = this.upstreamView.get(effect.interface);
    if (view === undefined) return;
    const message = effect.message;
    if (message.type === 'v2-report' || message.type === 'v1-report')
      view.set(message.group, { mode: 'exclude', sources: new Set() });
    if (message.type === 'v2-leave') view.delete(message.group);
    if (message.type !== 'v3-report') return;
    for (const r of message.records) {
      const state = view.get(r.group) ?? { mode: 'include', sources: new Set<Ipv4>() };
      switch (r.recordType) {
        case 'is-include':
          // A current-state answer (possibly to a source-specific query) only adds sources.
          for (const s of r.sources) state.mode === 'include' ? state.sources.add(s) : state.sources.delete(s);
          break;
        case 'to-include':
          state.mode = 'include';
          state.sources = new Set(r.sources);
          break;
        case 'is-exclude':
        case 'to-exclude':
          state.mode = 'exclude';
          state.sources = new Set(r.sources);
          break;
        case 'allow':
          for (const s of r.sources) state.mode === 'include' ? state.sources.add(s) : state.sources.delete(s);
          break;
        case 'block':
          for (const s of r.sources) state.mode === 'include' ? state.sources.delete(s) : state.sources.add(s);
          break;
      }
      if (state.mode === 'include' && state.sources.size === 0) view.delete(r.group);
      else view.set(r.group, state);
    }
  }

  /** Marks `name` as an upstream whose reports the harness interprets. */
  watchUpstream(name: string): void {
    if (!this.upstreamView.has(name)) this.upstreamView.set(name, new Map());
  }

  up(name: string, address: string, prefixLength = 24, ifindex?: number): Effect[] {
    this.addresses.set(name, ip(address));
    return this.record(
      this.proxy.interfaceUp({ name, ifindex: ifindex ?? this.nextIfindex++, address: ip(address), prefixLength }),
    );
  }

  down(name: string): Effect[] {
    return this.record(this.proxy.interfaceDown(name));
  }

  igmp(ifname: string, source: string, message: IgmpMessage, destination = '224.0.0.22', ttl = 1): Effect[] {
    return this.record(
      this.proxy.receiveIgmp(
        ifname,
        { source: ip(source), destination: ip(destination), routerAlert: true, ttl },
        message,
      ),
    );
  }

  upcall(ifname: string, source: string, group: string, kind: UpcallKind = 'nocache'): Effect[] {
    return this.record(this.proxy.receiveUpcall(ifname, { kind, source: ip(source), group: ip(group) }));
  }

  reconfigure(config: DaemonConfig): Effect[] {
    return this.record(this.proxy.reconfigure(config));
  }

  shutdown(): Effect[] {
    return this.record(this.proxy.shutdown());
  }

  /** Runs every timer up to and including `time`, each at its own deadline. */
  runUntil(time: number): Effect[] {
    const produced: Effect[] = [];
    for (let guard = 0; ; guard++) {
      if (guard > 1_000_000) throw new Error('runaway timers');
      const next = this.proxy.nextDeadline();
      if (next === undefined || next > time) break;
      if (next < this.clock) throw new Error(`deadline ${next} in the past (now ${this.clock})`);
      this.clock = next;
      produced.push(...this.record(this.proxy.advance()));
    }
    this.clock = Math.max(this.clock, time);
    return produced;
  }

  runFor(ms: number): Effect[] {
    return this.runUntil(this.clock + ms);
  }

  /** Sent IGMP messages, optionally only on one interface and from a given time on. */
  sent(options: { interface?: string; since?: number; until?: number; type?: IgmpMessage['type'] } = {}): Sent[] {
    const result: Sent[] = [];
    for (const { at, effect } of this.log) {
      if (effect.type !== 'send-igmp') continue;
      if (options.interface !== undefined && effect.interface !== options.interface) continue;
      if (options.since !== undefined && at < options.since) continue;
      if (options.until !== undefined && at > options.until) continue;
      if (options.type !== undefined && effect.message.type !== options.type) continue;
      result.push({ at, effect });
    }
    return result;
  }

  logs(level?: string): string[] {
    return this.log.flatMap(({ effect }) =>
      effect.type === 'log' && (level === undefined || effect.level === level) ? [effect.message] : [],
    );
  }

  route(source: string, group: string): SetRouteEffect | undefined {
    return this.kernelRoutes.get(routeKey(ip(source), ip(group)));
  }

  /** "iface:threshold" of the route's outputs, sorted. */
  outputs(source: string, group: string): string[] | undefined {
    return this.route(source, group)
      ?.outputs.map((o) => `${o.interface}:${o.threshold}`)
      .sort();
  }

  observed(upstream: string, group: string): ObservedState | undefined {
    return this.upstreamView.get(upstream)?.get(ip(group));
  }
}

export function routeKey(source: Ipv4, group: Ipv4): string {
  return `${formatIpv4(source)} ${formatIpv4(group)}`;
}

export function only<T>(items: readonly T[]): T {
  if (items.length !== 1) throw new Error(`expected exactly one item, got ${items.length}`);
  return items[0]!;
}

export function ofType<K extends Effect['type']>(effects: readonly Effect[], type: K): Extract<Effect, { type: K }>[] {
  return effects.filter((e): e is Extract<Effect, { type: K }> => e.type === type);
}

/** Records of every v3 report among `effects`, as "type group [sources]" strings. */
export function recordsOf(effects: readonly Effect[], ifname?: string): string[] {
  const result: string[] = [];
  for (const e of effects) {
    if (e.type !== 'send-igmp' || (ifname !== undefined && e.interface !== ifname) || e.message.type !== 'v3-report')
      continue;
    for (const r of e.message.records)
      result.push(`${r.recordType} ${formatIpv4(r.group)} [${r.sources.map(formatIpv4).join(',')}]`);
  }
  return result;
}

export function describeSends(effects: readonly Effect[]): string[] {
  const result: string[] = [];
  for (const e of effects) {
    if (e.type !== 'send-igmp') continue;
    const m = e.message;
    const what =
      m.type === 'query'
        ? `query v${m.version} ${formatIpv4(m.group)}${m.v3 !== undefined && m.v3.sources.length > 0 ? ` [${m.v3.sources.map(formatIpv4).join(',')}]` : ''}`
        : m.type === 'v3-report'
          ? `v3-report ${m.records.map((r) => `${r.recordType} ${formatIpv4(r.group)}${r.sources.length > 0 ? ` [${r.sources.map(formatIpv4).join(',')}]` : ''}`).join('; ')}`
          : `${m.type} ${formatIpv4(m.group)}`;
    result.push(`${e.interface} ${formatIpv4(e.source)}->${formatIpv4(e.destination)} ${what}`);
  }
  return result;
}

export interface StandardOptions {
  quickLeave?: boolean;
  seed?: number;
  /** Bring up a second upstream eth9 (100.65.0.2/24, altnet 203.0.113.0/24). */
  secondUpstream?: boolean;
  upstreamFilters?: [GroupFilter['action'], string][];
  secondUpstreamFilters?: [GroupFilter['action'], string][];
  downstreamFilters?: [GroupFilter['action'], string][];
}

export const UP = 'eth0';
export const UP2 = 'eth9';
export const LAN1 = 'lan1';
export const LAN2 = 'lan2';

export function standardConfig(options: StandardOptions = {}): DaemonConfig {
  const interfaces = [
    phyint(UP, 'upstream', {
      rateLimit: 0,
      threshold: 1,
      altnets: ['198.51.100.0/24'],
      filters: options.upstreamFilters ?? [],
    }),
    phyint(LAN1, 'downstream', { threshold: 1, filters: options.downstreamFilters ?? [], altnets: ['10.9.9.9/32'] }),
    phyint(LAN2, 'downstream', { threshold: 2 }),
  ];
  if (options.secondUpstream === true) {
    interfaces.push(
      phyint(UP2, 'upstream', {
        rateLimit: 500,
        altnets: ['203.0.113.0/24'],
        filters: options.secondUpstreamFilters ?? [],
      }),
    );
  }
  return daemonConfig(interfaces, { quickLeave: options.quickLeave ?? false });
}

/**
 * eth0 upstream 100.64.0.2/24 (+ altnet 198.51.100.0/24), lan1 192.168.1.1/24 (threshold 1,
 * altnet 10.9.9.9/32), lan2 192.168.2.1/24 (threshold 2), optionally eth9 as a second
 * upstream; all up at time 0.
 */
export function standardSetup(options: StandardOptions = {}): SimulatedProxy {
  const sim = new SimulatedProxy(standardConfig(options), { seed: options.seed ?? 1 });
  sim.watchUpstream(UP);
  sim.up(UP, '100.64.0.2');
  if (options.secondUpstream === true) {
    sim.watchUpstream(UP2);
    sim.up(UP2, '100.65.0.2');
  }
  sim.up(LAN1, '192.168.1.1');
  sim.up(LAN2, '192.168.2.1');
  return sim;
}
