// core/host-tracking.ts alone: each host's own filter per group (RFC 3376 3.2 host side, as
// records change it), the per-host group count the limits read, and the two questions
// quickleave asks. Membership-level quickleave behaviour is in leave.test.ts.
import { describe, expect, it } from 'vitest';
import {
  ALL_SOURCES_FILTER,
  CompactGroupHosts,
  HostTracking,
  anyHostWants,
  anyHostWantsAllSources,
} from '../../addon/daemon/core/host-tracking.ts';
import type { GroupHosts, HostFilter } from '../../addon/daemon/core/host-tracking.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip } from './harness.ts';

const [hostA, hostB] = [ip('192.168.1.20'), ip('192.168.1.21')];
const [s1, s2, s3] = [ip('10.0.0.1'), ip('10.0.0.2'), ip('10.0.0.3')];

/** A host's filter as "include 10.0.0.1,10.0.0.2", undefined when it is not tracked. */
function filterOf(hosts: GroupHosts, host: number): string | undefined {
  const filter = hosts.get(host);
  return filter === undefined
    ? undefined
    : `${filter.mode} ${[...filter.sources]
        .sort((a, b) => a - b)
        .map(formatIpv4)
        .join(',')}`.trim();
}

const exclude = (...sources: number[]): HostFilter => ({ mode: 'exclude', sources: new Set(sources) });
const include = (...sources: number[]): HostFilter => ({ mode: 'include', sources: new Set(sources) });

describe("HostTracking: records change the host's own filter", () => {
  it('IS_IN / TO_IN and IS_EX / TO_EX replace it', () => {
    const tracking = new HostTracking();
    const hosts: GroupHosts = new Map();
    tracking.record(hosts, hostA, 'is-include', [s1, s2]);
    expect(filterOf(hosts, hostA)).toBe('include 10.0.0.1,10.0.0.2');
    tracking.record(hosts, hostA, 'to-exclude', [s3]);
    expect(filterOf(hosts, hostA)).toBe('exclude 10.0.0.3');
    tracking.record(hosts, hostA, 'is-exclude', []);
    expect(filterOf(hosts, hostA)).toBe('exclude');
    tracking.record(hosts, hostA, 'to-include', [s2]);
    expect(filterOf(hosts, hostA)).toBe('include 10.0.0.2');
  });

  it('ALLOW adds to an INCLUDE list and takes from an EXCLUDE list; BLOCK the reverse', () => {
    const tracking = new HostTracking();
    const hosts: GroupHosts = new Map();
    tracking.record(hosts, hostA, 'allow', [s1]);
    tracking.record(hosts, hostA, 'allow', [s2]);
    expect(filterOf(hosts, hostA)).toBe('include 10.0.0.1,10.0.0.2');
    tracking.record(hosts, hostA, 'block', [s1]);
    expect(filterOf(hosts, hostA)).toBe('include 10.0.0.2');
    tracking.record(hosts, hostB, 'to-exclude', [s1, s2]);
    tracking.record(hosts, hostB, 'allow', [s1]);
    expect(filterOf(hosts, hostB)).toBe('exclude 10.0.0.2');
    tracking.record(hosts, hostB, 'block', [s3]);
    expect(filterOf(hosts, hostB)).toBe('exclude 10.0.0.2,10.0.0.3');
  });

  it('a host left with INCLUDE({}) is no longer tracked (TO_IN({}), BLOCK of its last source, BLOCK from nobody)', () => {
    const tracking = new HostTracking();
    const hosts: GroupHosts = new Map();
    tracking.record(hosts, hostA, 'is-exclude', []);
    tracking.record(hosts, hostA, 'to-include', []);
    expect(hosts.has(hostA)).toBe(false);
    tracking.record(hosts, hostA, 'allow', [s1]);
    tracking.record(hosts, hostA, 'block', [s1]);
    expect(hosts.has(hostA)).toBe(false);
    tracking.record(hosts, hostB, 'block', [s1]);
    expect(hosts.has(hostB)).toBe(false);
    expect(tracking.groupCount(hostA) + tracking.groupCount(hostB)).toBe(0);
  });
});

describe('HostTracking: filters are shared between hosts and groups, never changed in place', () => {
  it('hosts that start with EXCLUDE({}) in two groups: a BLOCK in one leaves the other, and the shared filter, empty', () => {
    const tracking = new HostTracking();
    const group1: GroupHosts = new Map();
    const group2: GroupHosts = new Map();
    tracking.record(group1, hostA, 'is-exclude', []);
    tracking.set(group1, hostB, ALL_SOURCES_FILTER);
    tracking.record(group2, hostA, 'to-exclude', []);
    tracking.record(group1, hostA, 'block', [s1]);
    expect(filterOf(group1, hostA)).toBe('exclude 10.0.0.1');
    expect(filterOf(group1, hostB)).toBe('exclude');
    expect(filterOf(group2, hostA)).toBe('exclude');
    expect(ALL_SOURCES_FILTER.sources.size).toBe(0);
    tracking.record(group2, hostA, 'block', [s2]);
    tracking.record(group2, hostA, 'allow', [s2]);
    expect(filterOf(group2, hostA)).toBe('exclude');
    expect(filterOf(group1, hostA)).toBe('exclude 10.0.0.1');
    expect(ALL_SOURCES_FILTER.sources.size).toBe(0);
  });

  it('one filter object given to two groups: ALLOW, BLOCK and an expired source in one leave the other as it was', () => {
    const tracking = new HostTracking();
    const group1: GroupHosts = new Map();
    const group2: GroupHosts = new Map();
    const filter = include(s1, s2);
    tracking.set(group1, hostA, filter);
    tracking.set(group2, hostA, filter);
    tracking.record(group1, hostA, 'allow', [s3]);
    tracking.record(group1, hostA, 'block', [s2]);
    tracking.sourceExpired(group1, s1);
    expect(filterOf(group1, hostA)).toBe('include 10.0.0.3');
    expect(filterOf(group2, hostA)).toBe('include 10.0.0.1,10.0.0.2');
    expect([...filter.sources]).toEqual([s1, s2]);
  });
});

describe("CompactGroupHosts (a group's hosts without a Map for one host)", () => {
  it('answers as a Map does through any sequence of set and delete, in the same order', () => {
    const compact = new CompactGroupHosts();
    const model = new Map<number, HostFilter>();
    const candidates = [hostA, hostB, ip('192.168.1.22'), ip('192.168.1.23')];
    const filters = [ALL_SOURCES_FILTER, include(s1), exclude(s2)];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return (seed >>> 16) % n;
    };
    const sizesSeen = new Set<number>();
    for (let step = 0; step < 3000; step++) {
      const host = candidates[next(candidates.length)]!;
      if (next(3) === 0) {
        expect(compact.delete(host)).toBe(model.delete(host));
      } else {
        const filter = filters[next(filters.length)]!;
        compact.set(host, filter);
        model.set(host, filter);
      }
      sizesSeen.add(model.size);
      expect(compact.size).toBe(model.size);
      expect([...compact.entries()]).toEqual([...model.entries()]);
      expect([...compact.keys()]).toEqual([...model.keys()]);
      expect([...compact.values()]).toEqual([...model.values()]);
      for (const other of candidates) {
        expect(compact.get(other)).toBe(model.get(other));
        expect(compact.has(other)).toBe(model.has(other));
      }
    }
    expect([...sizesSeen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('HostTracking on it: two hosts, one leaves, the other keeps its own filter and count', () => {
    const tracking = new HostTracking();
    const hosts = new CompactGroupHosts();
    tracking.record(hosts, hostA, 'is-exclude', []);
    tracking.record(hosts, hostB, 'allow', [s1]);
    expect(filterOf(hosts, hostA)).toBe('exclude');
    expect(filterOf(hosts, hostB)).toBe('include 10.0.0.1');
    tracking.record(hosts, hostA, 'to-include', []);
    expect([...hosts.keys()]).toEqual([hostB]);
    expect(filterOf(hosts, hostB)).toBe('include 10.0.0.1');
    expect(anyHostWants(hosts, s1)).toBe(true);
    expect(anyHostWantsAllSources(hosts)).toBe(false);
    tracking.sourceExpired(hosts, s1);
    expect(hosts.size).toBe(0);
    expect(tracking.groupCount(hostA) + tracking.groupCount(hostB)).toBe(0);
  });
});

describe('HostTracking: groups per host', () => {
  it('counts each group that lists the host once, and forgets it as it leaves', () => {
    const tracking = new HostTracking();
    const group1: GroupHosts = new Map();
    const group2: GroupHosts = new Map();
    tracking.set(group1, hostA, exclude());
    tracking.set(group1, hostA, exclude(s1));
    tracking.record(group2, hostA, 'allow', [s1]);
    tracking.set(group2, hostB, exclude());
    expect(tracking.groupCount(hostA)).toBe(2);
    expect(tracking.groupCount(hostB)).toBe(1);
    tracking.remove(group1, hostA);
    tracking.remove(group1, hostA);
    expect(tracking.groupCount(hostA)).toBe(1);
    tracking.removeAll(group2);
    expect(group2.size).toBe(0);
    expect(tracking.groupCount(hostA)).toBe(0);
    expect(tracking.groupCount(hostB)).toBe(0);
  });

  it('clear() forgets every count', () => {
    const tracking = new HostTracking();
    tracking.set(new Map(), hostA, exclude());
    tracking.clear();
    expect(tracking.groupCount(hostA)).toBe(0);
  });
});

describe('HostTracking: expiry', () => {
  it("an expired source leaves the INCLUDE hosts' lists; a host left with none goes; EXCLUDE hosts keep theirs", () => {
    const tracking = new HostTracking();
    const hosts: GroupHosts = new Map();
    tracking.set(hosts, hostA, include(s1));
    tracking.set(hosts, hostB, include(s1, s2));
    const hostC = ip('192.168.1.22');
    tracking.set(hosts, hostC, exclude(s1));
    tracking.sourceExpired(hosts, s1);
    expect(hosts.has(hostA)).toBe(false);
    expect(tracking.groupCount(hostA)).toBe(0);
    expect(filterOf(hosts, hostB)).toBe('include 10.0.0.2');
    expect(filterOf(hosts, hostC)).toBe('exclude 10.0.0.1');
  });

  it('the end of EXCLUDE mode takes the hosts that asked for all sources, and only those', () => {
    const tracking = new HostTracking();
    const hosts: GroupHosts = new Map();
    tracking.set(hosts, hostA, exclude());
    tracking.set(hosts, hostB, include(s2));
    tracking.excludeModeEnded(hosts);
    expect([...hosts.keys()]).toEqual([hostB]);
    expect(tracking.groupCount(hostA)).toBe(0);
  });
});

describe('what quickleave asks', () => {
  it('anyHostWants: an INCLUDE host listing the source, or an EXCLUDE host not excluding it', () => {
    expect(anyHostWants(new Map(), s1)).toBe(false);
    expect(anyHostWants(new Map([[hostA, include(s2)]]), s1)).toBe(false);
    expect(anyHostWants(new Map([[hostA, include(s1)]]), s1)).toBe(true);
    expect(anyHostWants(new Map([[hostA, exclude(s1)]]), s1)).toBe(false);
    expect(anyHostWants(new Map([[hostA, exclude(s2)]]), s1)).toBe(true);
    expect(
      anyHostWants(
        new Map([
          [hostA, include(s2)],
          [hostB, exclude()],
        ]),
        s1,
      ),
    ).toBe(true);
  });

  it('anyHostWantsAllSources: some host in EXCLUDE mode', () => {
    expect(anyHostWantsAllSources(new Map())).toBe(false);
    expect(anyHostWantsAllSources(new Map([[hostA, include(s1)]]))).toBe(false);
    expect(
      anyHostWantsAllSources(
        new Map([
          [hostA, include(s1)],
          [hostB, exclude(s2)],
        ]),
      ),
    ).toBe(true);
  });
});
