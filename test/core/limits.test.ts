// Limits on what receivers make a downstream hold (maxgroups, maxgroupsperhost, maxsources)
// and the TTL rule (igmpttl): joins beyond a limit and IGMP not sent with TTL 1 are
// ignored, counted per downstream, and logged at most once a minute per host.
import { describe, expect, it } from 'vitest';
import { refuseBeyondLimits, refuseTtl } from '../../addon/daemon/core/admission.ts';
import type { MembershipCounts } from '../../addon/daemon/core/admission.ts';
import type { DownstreamLimits } from '../../addon/daemon/config/types.ts';
import {
  LAN1,
  LAN2,
  SimulatedProxy,
  UP,
  ip,
  record,
  recordsOf,
  standardConfig,
  v1Report,
  v2Leave,
  v2Report,
  v3Query,
  v3Report,
} from './harness.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/types.ts';

const TV = '192.168.1.20';
const HOSTILE = '192.168.1.66';
const source = (i: number) => `198.51.100.${i}`;
const group = (i: number) => `239.30.${i >> 8}.${i & 255}`;

function setup(limits: Partial<DownstreamLimits>, requireTtlOne = true): SimulatedProxy {
  const config = {
    ...standardConfig({ quickLeave: true }),
    limits: { groupsPerInterface: 2048, groupsPerHost: 512, sourcesPerGroup: 64, ...limits },
    requireTtlOne,
  };
  const sim = new SimulatedProxy(config);
  sim.watchUpstream(UP);
  sim.up(UP, '100.64.0.2');
  sim.up(LAN1, '192.168.1.1');
  sim.up(LAN2, '192.168.2.1');
  return sim;
}

const refused = (sim: SimulatedProxy, name = LAN1) =>
  sim.proxy.snapshot().downstreams.find((d) => d.name === name)!.refused;
const groupsOn = (sim: SimulatedProxy, name = LAN1) =>
  sim.proxy
    .snapshot()
    .downstreams.find((d) => d.name === name)!
    .groups.map((g) => g.group);

describe('the limit checks (pure)', () => {
  const limits: DownstreamLimits = { groupsPerInterface: 3, groupsPerHost: 2, sourcesPerGroup: 4 };
  const base: MembershipCounts = {
    groups: 0,
    groupExists: false,
    hostGroups: 0,
    hostIsMember: false,
    sources: 0,
    addedSources: 0,
  };
  // [what, counts, joins, the counter refused under (undefined = admitted)]
  const cases: [string, Partial<MembershipCounts>, boolean, string | undefined][] = [
    ['a first join', {}, true, undefined],
    ['a new group on a full interface', { groups: 3 }, true, 'groupsPerInterface'],
    ['an existing group on a full interface', { groups: 3, groupExists: true }, true, undefined],
    ['a host at its limit joining a new group', { groups: 2, hostGroups: 2 }, true, 'groupsPerHost'],
    [
      'a host at its limit joining a group others watch',
      { groups: 2, groupExists: true, hostGroups: 2 },
      true,
      'groupsPerHost',
    ],
    [
      'a host at its limit refreshing its own group',
      { groups: 2, groupExists: true, hostGroups: 2, hostIsMember: true },
      true,
      undefined,
    ],
    ['sources up to the limit', { groupExists: true, sources: 2, addedSources: 2 }, true, undefined],
    ['one source beyond the limit', { groupExists: true, sources: 2, addedSources: 3 }, true, 'sourcesPerGroup'],
    [
      'a leave from a full interface and host (limits lowered by a reload)',
      { groups: 9, groupExists: true, hostGroups: 9, hostIsMember: true, sources: 9 },
      false,
      undefined,
    ],
  ];
  it.each(cases)('%s', (_what, counts, joins, counter) => {
    const refusal = refuseBeyondLimits('lan1', limits, { ...base, ...counts }, ip('239.1.1.1'), ip(TV), joins);
    expect(refusal?.counter).toBe(counter);
    if (refusal !== undefined) {
      expect(refusal.throttleKey).toBe(`limit lan1 ${ip(TV)}`);
      expect(refusal.message).toMatch(
        /^lan1: join of 239\.1\.1\.1 from 192\.168\.1\.20 ignored: .*\((maxgroups|maxgroupsperhost|maxsources) \d+\)/,
      );
    }
  });

  // [ttl, requireTtlOne, refused]
  const ttls: [number, boolean, boolean][] = [
    [1, true, false],
    [64, true, true],
    [0, true, true],
    [255, true, true],
    [64, false, false],
  ];
  it.each(ttls)('TTL %i, TTL 1 required: %s -> refused: %s', (ttl, requireTtlOne, isRefused) => {
    const refusal = refuseTtl('lan1', requireTtlOne, ip(TV), ttl, 'v2-report');
    expect(refusal !== undefined).toBe(isRefused);
    if (refusal !== undefined) {
      expect(refusal).toMatchObject({ counter: 'ttl', throttleKey: `ttl lan1 ${ip(TV)}` });
      expect(refusal.message).toContain(`with IP TTL ${ttl}`);
      expect(refusal.message).toContain('igmpttl any');
    }
  });
});

describe('limits in the proxy', () => {
  // [what, limits, message from the hostile host for join i, counter that grows]
  const joins: [
    string,
    Partial<DownstreamLimits>,
    (i: number) => IgmpMessage,
    'groupsPerInterface' | 'groupsPerHost',
  ][] = [
    ['groups per host, IGMPv2', { groupsPerHost: 5 }, (i) => v2Report(group(i)), 'groupsPerHost'],
    ['groups per host, IGMPv1', { groupsPerHost: 5 }, (i) => v1Report(group(i)), 'groupsPerHost'],
    [
      'groups per host, IGMPv3 EXCLUDE',
      { groupsPerHost: 5 },
      (i) => v3Report(record('to-exclude', group(i))),
      'groupsPerHost',
    ],
    [
      'groups per host, IGMPv3 INCLUDE',
      { groupsPerHost: 5 },
      (i) => v3Report(record('allow', group(i), [source(1)])),
      'groupsPerHost',
    ],
    ['groups per interface', { groupsPerInterface: 5 }, (i) => v2Report(group(i)), 'groupsPerInterface'],
  ];
  it.each(joins)(
    '%s: joins beyond the limit are ignored and counted, logged once a minute',
    (_what, limits, join, counter) => {
      const sim = setup(limits);
      for (let i = 0; i < 20; i++) sim.igmp(LAN1, HOSTILE, join(i));
      expect(groupsOn(sim)).toEqual([0, 1, 2, 3, 4].map(group));
      expect(refused(sim)).toMatchObject({ [counter]: 15, lastHost: HOSTILE, lastAt: 0 });
      expect(
        sim.proxy
          .snapshot()
          .upstreams[0]!.joined.map((j) => j.group)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4].map(group).sort());
      expect(sim.logs('warning').filter((line) => line.includes('ignored'))).toHaveLength(1);
      // a minute later the next refusal is logged again
      sim.runFor(60_000);
      sim.igmp(LAN1, HOSTILE, join(30));
      expect(sim.logs('warning').filter((line) => line.includes('ignored'))).toHaveLength(2);
    },
  );

  it('a host at its limit does not keep another TV from its channel; the other downstream is not affected', () => {
    const sim = setup({ groupsPerHost: 3 });
    for (let i = 0; i < 10; i++) sim.igmp(LAN1, HOSTILE, v2Report(group(i)));
    sim.igmp(LAN1, TV, v2Report(group(100)));
    sim.igmp(LAN1, TV, v2Report(group(0))); // a group the hostile host also holds
    sim.igmp(LAN2, '192.168.2.20', v2Report(group(101)));
    expect(groupsOn(sim)).toContain(group(100));
    expect(groupsOn(sim, LAN2)).toEqual([group(101)]);
    expect(refused(sim).groupsPerHost).toBe(7);
    expect(refused(sim, LAN2).groupsPerHost).toBe(0);
  });

  it('a host at its limit may refresh and leave its groups, and join again after a leave', () => {
    const sim = setup({ groupsPerHost: 2 });
    sim.igmp(LAN1, TV, v2Report(group(1)));
    sim.igmp(LAN1, TV, v2Report(group(2)));
    sim.igmp(LAN1, TV, v2Report(group(3)));
    expect(refused(sim).groupsPerHost).toBe(1);
    sim.igmp(LAN1, TV, v2Report(group(1))); // refresh
    expect(refused(sim).groupsPerHost).toBe(1);
    sim.igmp(LAN1, TV, v2Leave(group(1)), '224.0.0.2');
    sim.igmp(LAN1, TV, v2Report(group(3)));
    expect(groupsOn(sim)).toEqual([group(2), group(3)]);
    expect(refused(sim).groupsPerHost).toBe(1);
  });

  it('groups that expire give the host its share back', () => {
    const sim = setup({ groupsPerHost: 2 });
    sim.igmp(LAN1, TV, v2Report(group(1)));
    sim.igmp(LAN1, TV, v2Report(group(2)));
    sim.runFor(300_000); // past the group membership interval, no refresh
    expect(groupsOn(sim)).toEqual([]);
    sim.igmp(LAN1, TV, v2Report(group(3)));
    sim.igmp(LAN1, TV, v2Report(group(4)));
    expect(groupsOn(sim)).toEqual([group(3), group(4)]);
    expect(refused(sim).groupsPerHost).toBe(0);
  });

  it('sources per group: a record that would go beyond the limit is ignored whole; records within it work', () => {
    const sim = setup({ sourcesPerGroup: 4 });
    sim.igmp(LAN1, TV, v3Report(record('allow', group(1), [source(1), source(2), source(3)])));
    sim.igmp(LAN1, HOSTILE, v3Report(record('allow', group(1), [source(3), source(4), source(5)])));
    sim.igmp(
      LAN1,
      HOSTILE,
      v3Report(
        record(
          'is-include',
          group(2),
          Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`),
        ),
      ),
    );
    sim.igmp(LAN1, HOSTILE, v3Report(record('allow', group(1), [source(3), source(4)])));
    const groups = sim.proxy.snapshot().downstreams[0]!.groups;
    expect(groups.map((g) => g.group)).toEqual([group(1)]);
    expect(groups[0]!.sources.map((s) => s.source)).toEqual([1, 2, 3, 4].map(source));
    expect(refused(sim).sourcesPerGroup).toBe(2);
    expect(
      recordsOf(
        sim.log.map((l) => l.effect),
        UP,
      ).some((r) => r.includes(source(5))),
    ).toBe(false);
  });

  it('a lowered limit (reload) never blocks a leave or a block of held sources', () => {
    const sim = setup({});
    for (let i = 0; i < 4; i++) sim.igmp(LAN1, TV, v3Report(record('allow', group(i), [source(1), source(2)])));
    sim.reconfigure({
      ...standardConfig({ quickLeave: true }),
      limits: { groupsPerInterface: 1, groupsPerHost: 1, sourcesPerGroup: 1 },
      requireTtlOne: true,
    });
    sim.igmp(LAN1, TV, v3Report(record('block', group(0), [source(1), source(2)])));
    sim.igmp(LAN1, TV, v3Report(record('to-include', group(1), [])));
    expect(groupsOn(sim)).toEqual([group(2), group(3)]);
    expect(refused(sim)).toMatchObject({ groupsPerInterface: 0, groupsPerHost: 0, sourcesPerGroup: 0 });
  });
});

describe('IGMP TTL', () => {
  it('a report with TTL 64 (routed, or forged) is ignored and counted: no upstream join', () => {
    const sim = setup({});
    sim.igmp(LAN1, TV, v2Report(group(1)), group(1), 64);
    sim.igmp(LAN1, TV, v3Report(record('to-exclude', group(2))), '224.0.0.22', 64);
    expect(groupsOn(sim)).toEqual([]);
    expect(sim.proxy.snapshot().upstreams[0]!.joined).toEqual([]);
    expect(sim.sent({ interface: UP })).toEqual([]);
    expect(refused(sim)).toMatchObject({ ttl: 2, lastHost: TV });
    expect(sim.logs('info').filter((line) => line.includes('IP TTL 64'))).toHaveLength(1);
  });

  it('a query with TTL 2 on a downstream does not silence our querier', () => {
    const sim = setup({});
    sim.igmp(LAN1, '192.168.1.0', v3Query(), '224.0.0.1', 2);
    expect(sim.proxy.snapshot().downstreams[0]!.querier.querier).toBe(true);
    expect(refused(sim).ttl).toBe(1);
  });

  it('TTL 1 works as always, and `igmpttl any` accepts every TTL (broken receivers)', () => {
    const strict = setup({});
    strict.igmp(LAN1, TV, v2Report(group(1)), group(1), 1);
    expect(groupsOn(strict)).toEqual([group(1)]);
    const any = setup({}, false);
    any.igmp(LAN1, TV, v2Report(group(1)), group(1), 64);
    expect(groupsOn(any)).toEqual([group(1)]);
    expect(refused(any).ttl).toBe(0);
  });

  it('the upstream is not judged by TTL: the provider query with TTL 64 is still answered', () => {
    const sim = setup({});
    sim.igmp(LAN1, TV, v2Report(group(1)));
    sim.runFor(2_000);
    const mark = sim.log.length;
    sim.igmp(UP, '100.64.0.1', v3Query(), '224.0.0.1', 64);
    sim.runFor(10_000);
    expect(
      recordsOf(
        sim.log.slice(mark).map((l) => l.effect),
        UP,
      ),
    ).toEqual([`is-exclude ${group(1)} []`]);
  });
});
