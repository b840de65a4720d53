// The status summary the daemon logs on SIGUSR1 (runtime/status.ts), from a real core.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import { buildStatus, summarizeStatus } from '../../addon/daemon/runtime/status.ts';

function summaryAfter(queryFrom: number | undefined): string[] {
  const parsed = parseConfig('phyint ppp0 upstream\n  altnet 10.1.2.0/24\nphyint green0 downstream\n', 'igmpproxy.conf');
  if (!parsed.ok) throw new Error('config invalid');
  const proxy = new IgmpProxyCore(parsed.config, { now: () => 0, random: () => 0.5 });
  proxy.interfaceUp({ name: 'ppp0', ifindex: 7, address: 0x54000001, prefixLength: 32 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: 0xc0a80001, prefixLength: 24 });
  if (queryFrom !== undefined) {
    proxy.receiveIgmp('green0', { source: queryFrom, destination: 0xe0000001, routerAlert: true }, {
      type: 'query', version: 3, maxResponseMs: 10_000, group: 0,
      v3: { suppressRouterSide: false, robustness: 3, queryIntervalSeconds: 60, sources: [] },
    });
  }
  return summarizeStatus(buildStatus({
    version: '1.0.0', configFile: '/etc/igmpproxy.conf', configLoadedAt: new Date(0), startedAt: new Date(0), now: new Date(0),
    vifs: [], vifStats: [], mfc: [], waitingFor: [], proxy: proxy.snapshot(), stallAlarm: { afterSeconds: 10, groups: [] },
  }));
}

describe('status summary', () => {
  it('names the querier of each downstream, with the values we follow when another router is querier', () => {
    expect(summaryAfter(undefined)).toContain('downstream green0 (192.168.0.1/24): 0 groups, 0 hosts, we are querier');
    expect(summaryAfter(0xc0a80000)).toContain(
      'downstream green0 (192.168.0.1/24): 0 groups, 0 hosts, querier is 192.168.0.0 (its robustness 3, query interval 60 s)',
    );
  });
});
