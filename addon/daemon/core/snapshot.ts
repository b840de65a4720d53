// The core's state as one JSON-able document (SIGUSR1, the status file): built from what
// each module reports about itself, with addresses formatted for people. Pure: it reads
// the views it is given and changes nothing, so the wiring calls it at any moment.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { DaemonConfig, DownstreamLimits } from '../config/types.ts';
import type { InterfaceInfo } from './effects.ts';
import type { RefusalCounter } from './admission.ts';
import type { ProtocolSettings } from './settings.ts';
import type { GroupSnapshot } from './membership.ts';
import type { QuerierSnapshot } from './querier.ts';
import type { UpstreamSnapshot } from './upstream.ts';
import type { Refused, RouteSnapshot } from './routes.ts';

/** What a downstream refused since it came up, per cause, and the latest refusal. */
export interface RefusedSnapshot {
  readonly groupsPerInterface: number;
  readonly groupsPerHost: number;
  readonly sourcesPerGroup: number;
  readonly ttl: number;
  /** Datagrams dropped unread: the host was beyond its share (host-report-rate.ts). */
  readonly reportRate: number;
  readonly lastHost: string | null;
  readonly lastAt: number | null;
}

export interface RefusedSource {
  readonly source: string;
  readonly group: string;
  /** When the kernel last asked for it (monotonic ms). */
  readonly at: number;
}

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
    readonly name: string;
    readonly ifindex: number;
    readonly address: string;
    readonly prefixLength: number;
    /** Streams refused lately because their source is outside the subnet and every altnet. */
    readonly refusedSources: readonly RefusedSource[];
  } & UpstreamSnapshot)[];
  readonly routes: readonly RouteSnapshot[];
}

/** What the snapshot reads of a downstream (interfaces-lifecycle.ts's Downstream fits). */
export interface DownstreamView {
  readonly info: InterfaceInfo;
  readonly querier: { snapshot(): QuerierSnapshot };
  readonly membership: { snapshot(): GroupSnapshot[] };
  readonly refused: Readonly<Record<RefusalCounter, number>>;
  readonly lastRefusal: { readonly host: Ipv4; readonly at: number } | undefined;
}

/** What the snapshot reads of an upstream. */
export interface UpstreamView {
  readonly info: InterfaceInfo;
  readonly host: { snapshot(): UpstreamSnapshot };
}

export interface SnapshotInputs {
  readonly now: number;
  readonly config: Pick<DaemonConfig, 'quickLeave' | 'limits' | 'requireTtlOne'>;
  readonly settings: ProtocolSettings;
  readonly timerCount: number;
  readonly downstreams: Iterable<DownstreamView>;
  readonly upstreams: Iterable<UpstreamView>;
  readonly routes: { snapshot(): RouteSnapshot[]; recentRefusals(input: string): Refused[] };
}

export function buildSnapshot(inputs: SnapshotInputs): ProxySnapshot {
  const { config, routes } = inputs;
  return {
    now: inputs.now,
    quickLeave: config.quickLeave,
    settings: inputs.settings,
    limits: { ...config.limits, requireTtlOne: config.requireTtlOne },
    timers: inputs.timerCount,
    downstreams: [...inputs.downstreams].map((d) => ({
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
    upstreams: [...inputs.upstreams].map((u) => ({
      name: u.info.name,
      ifindex: u.info.ifindex,
      address: formatIpv4(u.info.address),
      prefixLength: u.info.prefixLength,
      refusedSources: routes
        .recentRefusals(u.info.name)
        .map((entry) => ({ source: formatIpv4(entry.source), group: formatIpv4(entry.group), at: entry.at })),
      ...u.host.snapshot(),
    })),
    routes: routes.snapshot(),
  };
}
