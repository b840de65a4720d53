// Each host's share of the datagrams the daemon looks at (core/host-report-rate.ts, rate in
// core/settings.ts): a flooding host is cut to HOST_REPORT_BURST and then one datagram per
// HOST_REPORT_REFILL_MS, counted and logged once a minute, while the other hosts, and an RFC
// host answering a query for maxgroupsperhost groups at once, are never touched.
import { describe, expect, it } from 'vitest';
import { HostReportRate, MAX_TRACKED_HOSTS } from '../../addon/daemon/core/host-report-rate.ts';
import { HOST_REPORT_BURST, HOST_REPORT_REFILL_MS } from '../../addon/daemon/core/settings.ts';
import type { Effect } from '../../addon/daemon/core/effects.ts';
import { LAN1, LAN2, SimulatedProxy, UP, ip, standardConfig } from './harness.ts';

const HOSTILE = ip('192.168.1.66');
const TV = ip('192.168.1.20');

function admitted(rate: HostReportRate, host: number, now: number, tries: number): number {
  let count = 0;
  for (let i = 0; i < tries; i++) if (rate.admit(host, now)) count++;
  return count;
}

describe('HostReportRate', () => {
  it('admits a burst, then one per refill interval, per host', () => {
    const rate = new HostReportRate(5, 10);
    expect(admitted(rate, HOSTILE, 0, 100)).toBe(5);
    expect(admitted(rate, TV, 0, 3)).toBe(3); // another host has its own share
    expect(admitted(rate, HOSTILE, 9, 100)).toBe(0);
    expect(admitted(rate, HOSTILE, 10, 100)).toBe(1);
    expect(admitted(rate, HOSTILE, 1_010, 1_000)).toBe(5); // a second later: back to the burst, no more
  });

  it('keeps at most MAX_TRACKED_HOSTS buckets, forgetting full ones first', () => {
    const rate = new HostReportRate(2, 10);
    expect(rate.admit(HOSTILE, 0)).toBe(true);
    expect(rate.admit(HOSTILE, 0)).toBe(true);
    for (let i = 0; i < 3 * MAX_TRACKED_HOSTS; i++) rate.admit(ip('10.0.0.0') + i, 0);
    expect(rate.size).toBeLessThanOrEqual(MAX_TRACKED_HOSTS);
  });

  it('an RFC host answering a general query for 512 groups with IGMPv2 (one report each) at once fits the burst', () => {
    expect(HOST_REPORT_BURST).toBeGreaterThanOrEqual(512 + 2 * 2);
    const rate = new HostReportRate(HOST_REPORT_BURST, HOST_REPORT_REFILL_MS);
    expect(admitted(rate, TV, 0, 516)).toBe(516);
  });
});

describe('screening datagrams in the proxy', () => {
  function setup(): SimulatedProxy {
    const sim = new SimulatedProxy(standardConfig({ quickLeave: true }));
    sim.up(UP, '100.64.0.2');
    sim.up(LAN1, '192.168.1.1');
    sim.up(LAN2, '192.168.2.1');
    return sim;
  }
  const warnings = (effects: readonly Effect[]): string[] =>
    effects.flatMap((e) => (e.type === 'log' && e.level === 'warning' ? [e.message] : []));

  it('drops a host beyond its share unread: counted, logged once a minute; the TV and the upstream are not screened', () => {
    const sim = setup();
    const logged: string[] = [];
    let dropped = 0;
    for (let i = 0; i < HOST_REPORT_BURST + 1_000; i++) {
      const effects = sim.proxy.screenDatagram(LAN1, HOSTILE);
      if (effects !== undefined) {
        dropped++;
        logged.push(...warnings(effects));
      }
    }
    expect(dropped).toBe(1_000);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^lan1: IGMP from 192\.168\.1\.66 dropped unread: more than 600 at once or 100 a second/);
    expect(sim.proxy.screenDatagram(LAN1, TV)).toBeUndefined();
    expect(sim.proxy.screenDatagram(LAN2, HOSTILE)).toBeUndefined(); // its share on another downstream is its own
    expect(sim.proxy.screenDatagram(UP, HOSTILE)).toBeUndefined(); // the provider's queries are never screened
    const refused = sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)!.refused;
    expect(refused).toMatchObject({ reportRate: 1_000, lastHost: '192.168.1.66' });
    sim.runFor(HOST_REPORT_REFILL_MS);
    expect(sim.proxy.screenDatagram(LAN1, HOSTILE)).toBeUndefined(); // one more after one interval
    sim.runFor(60_000);
    for (let i = 0; i < HOST_REPORT_BURST; i++) sim.proxy.screenDatagram(LAN1, HOSTILE);
    expect(warnings(sim.proxy.screenDatagram(LAN1, HOSTILE) ?? [])).toHaveLength(1); // a minute later: logged again
  });
});
