// Status documents as the daemon writes them (the real core and status builder), for the
// web page's tests: red0.8 upstream, green0 downstream, the given receivers on their channels.
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import { buildStatus, type StatusDocument } from '../../addon/daemon/runtime/status.ts';
import { StallWatch } from '../../addon/daemon/runtime/stall-watch.ts';

export interface Viewer {
  readonly host: string;
  readonly group: string;
}

export interface Stream {
  readonly group: string;
  readonly source: string;
  readonly packets: number;
  readonly bytes: number;
}

const toNumber = (dotted: string): number => dotted.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);

export function statusWith(viewers: readonly Viewer[], streams: readonly Stream[], writtenAt: Date): StatusDocument {
  const parsed = parseConfig(
    'phyint red0.8 upstream\n  altnet 217.0.0.0/16\nphyint green0 downstream\n',
    'igmpproxy.conf',
  );
  if (!parsed.ok) throw new Error('sample config invalid');
  let now = 0;
  const proxy = new IgmpProxyCore(parsed.config, { now: () => now, random: () => 0.5 });
  proxy.interfaceUp({ name: 'red0.8', ifindex: 7, address: toNumber('100.64.0.2'), prefixLength: 24 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: toNumber('192.168.1.1'), prefixLength: 24 });
  // The provider's querier asks on the upstream (IGMPv3, from 100.64.0.1).
  now = 500;
  proxy.receiveIgmp(
    'red0.8',
    { source: toNumber('100.64.0.1'), destination: toNumber('224.0.0.1'), routerAlert: true, ttl: 1 },
    {
      type: 'query',
      version: 3,
      maxResponseMs: 10_000,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
    },
  );
  now = 1_000;
  for (const viewer of viewers) {
    proxy.receiveIgmp(
      'green0',
      { source: toNumber(viewer.host), destination: toNumber(viewer.group), routerAlert: true, ttl: 1 },
      { type: 'v2-report', group: toNumber(viewer.group) },
    );
  }
  for (const stream of streams)
    proxy.receiveUpcall('red0.8', { kind: 'nocache', source: toNumber(stream.source), group: toNumber(stream.group) });
  return buildStatus({
    version: '1.0.0-100',
    configFile: '/etc/igmpproxy.conf',
    configLoadedAt: new Date(writtenAt.getTime() - 3_723_000),
    startedAt: new Date(writtenAt.getTime() - 3_723_000),
    now: writtenAt,
    vifs: [
      { name: 'red0.8', ifindex: 7, vif: 0 },
      { name: 'green0', ifindex: 3, vif: 1 },
    ],
    vifStats: [],
    mfc: streams.map((stream) => ({
      group: toNumber(stream.group),
      source: toNumber(stream.source),
      inputVif: 0,
      packets: stream.packets,
      bytes: stream.bytes,
      wrongInterface: 0,
      outputs: [{ vif: 1, ttl: 1 }],
    })),
    waitingFor: [],
    proxy: proxy.snapshot(),
    stallAlarm: { afterSeconds: 10, groups: new StallWatch(10_000).status(1_000) },
  });
}
