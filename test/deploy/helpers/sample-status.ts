// A status document exactly as the daemon writes it on SIGUSR1, made by the real core and
// the real status builder (not a hand-written imitation), for the deploy tool's status
// tests (sshd-deploy plants it where the stand-in daemon, which cannot run the daemon's
// routing part, writes none): ppp0 upstream, green0 downstream with one viewer of 239.35.10.4,
// whose stream is stalled.
import { parseConfig } from '../../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../../addon/daemon/core/proxy.ts';
import { StallWatch } from '../../../addon/daemon/runtime/stall-watch.ts';
import { buildStatus } from '../../../addon/daemon/runtime/status.ts';
import type { StatusDocument } from '../../../addon/daemon/runtime/status.ts';

export function sampleStatus(version: string): StatusDocument {
  const parsed = parseConfig(
    'phyint ppp0 upstream\n  altnet 10.1.2.0/24\nphyint green0 downstream\n',
    'igmpproxy.conf',
  );
  if (!parsed.ok) throw new Error('sample config invalid');
  let now = 0;
  const proxy = new IgmpProxyCore(parsed.config, { now: () => now, random: () => 0.5 });
  proxy.interfaceUp({ name: 'ppp0', ifindex: 7, address: 0x54000001, prefixLength: 32 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: 0xc0a80001, prefixLength: 24 });
  now = 1_000;
  proxy.receiveIgmp(
    'green0',
    { source: 0xc0a80064, destination: 0xef230a04, routerAlert: true, ttl: 1 },
    { type: 'v2-report', group: 0xef230a04 },
  );
  proxy.receiveUpcall('ppp0', { kind: 'nocache', source: 0x0a010203, group: 0xef230a04 });
  // The route's counter stood still for 12 s: the stall alarm counts one stall, ongoing.
  const stalls = new StallWatch(10_000);
  for (const at of [1_000, 13_000])
    stalls.observe(at, [{ source: 0x0a010203, group: 0xef230a04, input: 'ppp0', packets: 1234 }]);
  return buildStatus({
    version,
    configFile: '/etc/igmpproxy.conf',
    configLoadedAt: new Date(0),
    startedAt: new Date(0),
    now: new Date(1_000),
    vifs: [
      { name: 'ppp0', ifindex: 7, vif: 0 },
      { name: 'green0', ifindex: 3, vif: 1 },
    ],
    vifStats: [],
    mfc: [
      {
        group: 0xef230a04,
        source: 0x0a010203,
        inputVif: 0,
        packets: 1234,
        bytes: 1_600_000,
        wrongInterface: 0,
        outputs: [{ vif: 1, ttl: 1 }],
      },
    ],
    waitingFor: [],
    proxy: proxy.snapshot(),
    stallAlarm: { afterSeconds: 10, groups: stalls.status(13_000) },
  });
}
