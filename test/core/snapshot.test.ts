// core/snapshot.ts: the status document built from the modules' own reports. The views are
// plain objects here, so each field shows where it comes from and how it is formatted.
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../addon/daemon/core/snapshot.ts';
import type { DownstreamView, SnapshotInputs, UpstreamView } from '../../addon/daemon/core/snapshot.ts';
import { DEFAULT_SETTINGS } from '../../addon/daemon/core/settings.ts';
import type { QuerierSnapshot } from '../../addon/daemon/core/querier.ts';
import type { UpstreamSnapshot } from '../../addon/daemon/core/upstream.ts';
import type { GroupSnapshot } from '../../addon/daemon/core/membership.ts';
import type { RouteSnapshot } from '../../addon/daemon/core/routes.ts';
import { ip } from './harness.ts';

const querier: QuerierSnapshot = {
  querier: true,
  otherQuerier: null,
  otherQuerierPresentUntil: null,
  nextGeneralQueryAt: 5000,
  startupQueriesLeft: 1,
  robustness: 2,
  queryIntervalSeconds: 125,
  valuesFromOtherQuerier: false,
};
const groups: GroupSnapshot[] = [
  {
    group: '239.1.1.1',
    mode: 'exclude',
    compatibility: 2,
    groupTimerAt: 260_000,
    sources: [],
    hosts: ['192.168.1.20'],
  },
];
const upstreamState: UpstreamSnapshot = {
  querierVersion: 2,
  olderQuerierUntil: 400_000,
  joined: [{ group: '239.1.1.1', mode: 'exclude', sources: [] }],
  pendingRetransmissions: 1,
  generalResponseAt: null,
  lastQueryHeardAt: 900,
  querierQueryIntervalMs: 125_000,
  lastQuerier: '10.0.0.1',
  lastQueryVersion: 2,
  listeningSince: 0,
  reportsSent: 3,
  stateChangeReports: 2,
  pacedChanges: 0,
  waitingChanges: 0,
};
const route: RouteSnapshot = {
  source: '10.0.0.9',
  group: '239.1.1.1',
  input: 'ppp0',
  outputs: [{ interface: 'green0', threshold: 1 }],
  rateLimit: 0,
};

function downstream(name: string, lastRefusal: DownstreamView['lastRefusal']): DownstreamView {
  return {
    info: { name, ifindex: 3, address: ip('192.168.1.1'), prefixLength: 24 },
    querier: { snapshot: () => querier },
    membership: { snapshot: () => groups },
    refused: { groupsPerInterface: 1, groupsPerHost: 2, sourcesPerGroup: 3, ttl: 4, reportRate: 5 },
    lastRefusal,
  };
}

const upstream: UpstreamView = {
  info: { name: 'ppp0', ifindex: 7, address: ip('10.0.0.2'), prefixLength: 30 },
  host: { snapshot: () => upstreamState },
};

function inputs(overrides: Partial<SnapshotInputs> = {}): SnapshotInputs {
  return {
    now: 1234,
    config: {
      quickLeave: true,
      limits: { groupsPerInterface: 2048, groupsPerHost: 512, sourcesPerGroup: 64 },
      requireTtlOne: false,
    },
    settings: DEFAULT_SETTINGS,
    timerCount: 17,
    downstreams: [downstream('green0', undefined), downstream('blue0', { host: ip('192.168.1.30'), at: 777 })],
    upstreams: [upstream],
    routes: {
      snapshot: () => [route],
      recentRefusals: (input) =>
        input === 'ppp0' ? [{ source: ip('198.51.100.7'), group: ip('239.2.2.2'), at: 600 }] : [],
    },
    ...overrides,
  };
}

describe('buildSnapshot', () => {
  it('states the clock, settings, timer count, and the limits with the TTL rule beside them', () => {
    const snapshot = buildSnapshot(inputs());
    expect(snapshot.now).toBe(1234);
    expect(snapshot.quickLeave).toBe(true);
    expect(snapshot.settings).toBe(DEFAULT_SETTINGS);
    expect(snapshot.timers).toBe(17);
    expect(snapshot.limits).toEqual({
      groupsPerInterface: 2048,
      groupsPerHost: 512,
      sourcesPerGroup: 64,
      requireTtlOne: false,
    });
  });

  it('formats each downstream, its querier and groups as reported, its refusals with the last host or null', () => {
    const [green, blue] = buildSnapshot(inputs()).downstreams;
    expect(green).toEqual({
      name: 'green0',
      ifindex: 3,
      address: '192.168.1.1',
      prefixLength: 24,
      querier,
      groups,
      refused: {
        groupsPerInterface: 1,
        groupsPerHost: 2,
        sourcesPerGroup: 3,
        ttl: 4,
        reportRate: 5,
        lastHost: null,
        lastAt: null,
      },
    });
    expect(blue!.refused).toEqual({
      groupsPerInterface: 1,
      groupsPerHost: 2,
      sourcesPerGroup: 3,
      ttl: 4,
      reportRate: 5,
      lastHost: '192.168.1.30',
      lastAt: 777,
    });
  });

  it('gives each upstream its host state and the sources refused on it, formatted', () => {
    const [ppp] = buildSnapshot(inputs()).upstreams;
    expect(ppp).toEqual({
      name: 'ppp0',
      ifindex: 7,
      address: '10.0.0.2',
      prefixLength: 30,
      refusedSources: [{ source: '198.51.100.7', group: '239.2.2.2', at: 600 }],
      ...upstreamState,
    });
  });

  it('shows an interface without an address as 0.0.0.0 and lists the routes as the table reports them', () => {
    const snapshot = buildSnapshot(inputs({ upstreams: [{ ...upstream, info: { ...upstream.info, address: 0 } }] }));
    expect(snapshot.upstreams[0]!.address).toBe('0.0.0.0');
    expect(snapshot.routes).toEqual([route]);
  });
});
