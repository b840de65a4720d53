// The status summary the daemon logs on SIGUSR1 (runtime/status.ts), from a real core.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import { REPORT_BURST } from '../../addon/daemon/core/settings.ts';
import { buildStatus, summarizeStatus } from '../../addon/daemon/runtime/status.ts';

function summaryAfter(queryFrom: number | undefined): string[] {
  const parsed = parseConfig(
    'phyint ppp0 upstream\n  altnet 10.1.2.0/24\nphyint green0 downstream\n',
    'igmpproxy.conf',
  );
  if (!parsed.ok) throw new Error('config invalid');
  const proxy = new IgmpProxyCore(parsed.config, { now: () => 0, random: () => 0.5 });
  proxy.interfaceUp({ name: 'ppp0', ifindex: 7, address: 0x54000001, prefixLength: 32 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: 0xc0a80001, prefixLength: 24 });
  if (queryFrom !== undefined) {
    proxy.receiveIgmp(
      'green0',
      { source: queryFrom, destination: 0xe0000001, routerAlert: true, ttl: 1 },
      {
        type: 'query',
        version: 3,
        maxResponseMs: 10_000,
        group: 0,
        v3: { suppressRouterSide: false, robustness: 3, queryIntervalSeconds: 60, sources: [] },
      },
    );
  }
  return summarizeStatus(
    buildStatus({
      version: '1.0.0',
      configFile: '/etc/igmpproxy.conf',
      configLoadedAt: new Date(0),
      startedAt: new Date(0),
      now: new Date(0),
      vifs: [],
      vifStats: [],
      mfc: [],
      waitingFor: [],
      proxy: proxy.snapshot(),
      stallAlarm: { afterSeconds: 10, groups: [] },
    }),
  );
}

describe('status summary', () => {
  it('says what a downstream ignored and what waited for the pacing, only when something did', () => {
    const parsed = parseConfig(
      'maxgroupsperhost 1\nphyint ppp0 upstream\nphyint green0 downstream\n',
      'igmpproxy.conf',
    );
    if (!parsed.ok) throw new Error('config invalid');
    const proxy = new IgmpProxyCore(parsed.config, { now: () => 0, random: () => 0.5 });
    proxy.interfaceUp({ name: 'ppp0', ifindex: 7, address: 0x54000001, prefixLength: 32 });
    proxy.interfaceUp({ name: 'green0', ifindex: 3, address: 0xc0a80001, prefixLength: 24 });
    const summary = () =>
      summarizeStatus(
        buildStatus({
          version: '1.0.0',
          configFile: '/etc/igmpproxy.conf',
          configLoadedAt: new Date(0),
          startedAt: new Date(0),
          now: new Date(0),
          vifs: [],
          vifStats: [],
          mfc: [],
          waitingFor: [],
          proxy: proxy.snapshot(),
          stallAlarm: { afterSeconds: 10, groups: [] },
        }),
      );
    expect(summary().filter((line) => /ignored|pacing/.test(line))).toEqual([]);
    // Four more hosts than the pacing lets go at once: the last four joins wait.
    const hosts = REPORT_BURST + 4;
    for (let i = 1; i <= hosts; i++) {
      const host = 0xc0a80010 + i; // 192.168.0.17.., not our own .1
      proxy.receiveIgmp(
        'green0',
        { source: host, destination: 0xef010100 + i, routerAlert: true, ttl: 1 },
        { type: 'v2-report', group: 0xef010100 + i },
      );
      proxy.receiveIgmp(
        'green0',
        { source: host, destination: 0xef020100 + i, routerAlert: true, ttl: 1 },
        { type: 'v2-report', group: 0xef020100 + i },
      );
    }
    proxy.receiveIgmp(
      'green0',
      { source: 0xc0a80063, destination: 0xef030101, routerAlert: false, ttl: 64 },
      { type: 'v2-report', group: 0xef030101 },
    );
    expect(summary().filter((line) => /ignored|pacing/.test(line))).toEqual([
      `downstream green0 ignored IGMP: ${hosts} beyond maxgroupsperhost, 1 with IP TTL not 1 (latest from 192.168.0.99)`,
      'upstream ppp0: 4 group changes waited for the report pacing, 4 wait now',
    ]);
  });

  it('names the querier of each downstream, with the values we follow when another router is querier', () => {
    expect(summaryAfter(undefined)).toContain('downstream green0 (192.168.0.1/24): 0 groups, 0 hosts, we are querier');
    expect(summaryAfter(0xc0a80000)).toContain(
      'downstream green0 (192.168.0.1/24): 0 groups, 0 hosts, querier is 192.168.0.0 (its robustness 3, query interval 60 s)',
    );
  });
});
