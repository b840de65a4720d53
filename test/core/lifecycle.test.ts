// Which reports count, and the life of interfaces: down/up, reload, shutdown.
import { describe, expect, it } from 'vitest';
import {
  LAN1,
  LAN2,
  UP,
  UP2,
  daemonConfig,
  ip,
  ofType,
  phyint,
  recordsOf,
  standardConfig,
  standardSetup,
  v2Leave,
  v2Report,
  v3Report,
  record,
  SimulatedProxy,
} from './harness.ts';

const G = '239.1.1.1';

describe('which reports count', () => {
  it('reports from our own address are ignored', () => {
    const sim = standardSetup();
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.1', v2Report(G)), UP)).toEqual([]);
    expect(recordsOf(sim.igmp(LAN1, '100.64.0.2', v2Report(G)), UP)).toEqual([]);
    expect(sim.proxy.snapshot().downstreams[0]!.groups).toEqual([]);
  });

  it('reports from a foreign subnet without altnet are ignored (with an info log); altnet admits them', () => {
    const sim = standardSetup();
    const effects = sim.igmp(LAN1, '10.1.1.1', v2Report(G));
    expect(recordsOf(effects, UP)).toEqual([]);
    expect(ofType(effects, 'log').some((l) => l.level === 'info' && l.message.includes('altnet 10.1.1.1/32'))).toBe(
      true,
    );
    expect(recordsOf(sim.igmp(LAN1, '10.9.9.9', v2Report(G)), UP)).toEqual([`to-exclude ${G} []`]);
    // lan2's subnet is not lan1's
    expect(sim.proxy.snapshot().downstreams[1]!.groups).toEqual([]);
    expect(recordsOf(sim.igmp(LAN2, '192.168.1.50', v2Report('239.1.1.2')), UP)).toEqual([]);
  });

  it('reports from 0.0.0.0 (unnumbered host) are accepted', () => {
    const sim = standardSetup();
    expect(recordsOf(sim.igmp(LAN2, '0.0.0.0', v3Report(record('to-exclude', G))), UP)).toEqual([`to-exclude ${G} []`]);
  });

  it('never proxies 224.0.0.0/24 (mDNS 224.0.0.251) nor SSDP 239.255.255.250', () => {
    const sim = standardSetup();
    const effects = [
      ...sim.igmp(LAN1, '192.168.1.20', v2Report('224.0.0.251')),
      ...sim.igmp(LAN1, '192.168.1.20', v2Report('239.255.255.250')),
      ...sim.igmp(
        LAN1,
        '192.168.1.20',
        v3Report(record('to-exclude', '224.0.0.252'), record('to-exclude', '239.255.255.250')),
      ),
    ];
    expect(ofType(effects, 'send-igmp')).toEqual([]);
    expect(sim.proxy.snapshot().downstreams[0]!.groups).toEqual([]);
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.255.255.250'), 'set-route')).toEqual([]);
  });

  it('downstream whitelist/blacklist: ignored groups never get state', () => {
    const sim = standardSetup({
      downstreamFilters: [
        ['allow', '239.1.0.0/16'],
        ['deny', '239.1.9.0/24'],
      ],
    });
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1')), UP)).toEqual(['to-exclude 239.1.1.1 []']);
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.9.1')), UP)).toEqual([]);
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v2Report('239.2.1.1')), UP)).toEqual([]);
    // lan2 has no filter
    expect(recordsOf(sim.igmp(LAN2, '192.168.2.20', v2Report('239.2.1.1')), UP)).toEqual(['to-exclude 239.2.1.1 []']);
  });

  it('upstream filters choose the upstream per group range', () => {
    const sim = standardSetup({
      secondUpstream: true,
      upstreamFilters: [['allow', '239.1.0.0/16']],
      secondUpstreamFilters: [['deny', '239.1.0.0/16']],
    });
    const a = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.5.5'));
    expect(recordsOf(a, UP)).toEqual(['to-exclude 239.1.5.5 []']);
    expect(recordsOf(a, UP2)).toEqual([]);
    const b = sim.igmp(LAN1, '192.168.1.20', v2Report('239.7.5.5'));
    expect(recordsOf(b, UP)).toEqual([]);
    expect(recordsOf(b, UP2)).toEqual(['to-exclude 239.7.5.5 []']);
  });

  it('reports heard on an upstream are not memberships', () => {
    const sim = standardSetup();
    expect(ofType(sim.igmp(UP, '100.64.0.9', v2Report(G)), 'send-igmp')).toEqual([]);
    expect(sim.proxy.snapshot().upstreams[0]!.joined).toEqual([]);
  });
});

describe('interfaces going down and up', () => {
  it('upstream down/up (PPPoE reconnect): routes through it deleted, joins re-sent at once', () => {
    const sim = standardSetup({ secondUpstream: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', '232.1.1.1', ['198.51.100.1'])));
    sim.upcall(UP, '198.51.100.1', G);
    sim.upcall(UP2, '203.0.113.1', G);
    sim.runFor(30_000);
    const down = sim.down(UP);
    expect(ofType(down, 'delete-route').map((d) => d.input)).toEqual([UP]);
    expect(ofType(down, 'send-igmp')).toEqual([]); // the link is gone, nothing to tell it
    expect(sim.route('203.0.113.1', G)?.input).toBe(UP2);
    // upcalls on a down interface do nothing
    expect(ofType(sim.upcall(UP, '198.51.100.1', G), 'set-route')).toEqual([]);
    sim.runFor(7_000);
    const up = sim.up(UP, '100.64.7.2', 24, 99);
    const sends = ofType(up, 'send-igmp').filter((e) => e.interface === UP);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.source).toBe(ip('100.64.7.2'));
    expect(recordsOf(up, UP)).toEqual(['allow 232.1.1.1 [198.51.100.1]', `to-exclude ${G} []`]);
    // and it retransmits once, then the next upcall installs the route again
    expect(recordsOf(sim.runFor(1_000), UP)).toHaveLength(2);
    expect(ofType(sim.upcall(UP, '198.51.100.1', G), 'set-route')).toHaveLength(1);
  });

  it('downstream down: its groups go; the last listener leaves upstream', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.2'));
    sim.upcall(UP, '198.51.100.1', G);
    sim.upcall(UP, '198.51.100.1', '239.1.1.2');
    sim.runFor(5_000);
    const down = sim.down(LAN2);
    expect(ofType(down, 'delete-route').map((d) => d.group)).toEqual([ip('239.1.1.2')]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan1:1']);
    expect(recordsOf(down, UP)).toEqual(['to-include 239.1.1.2 []']);
    // IGMP on an interface that is down is ignored
    expect(ofType(sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.3')), 'send-igmp')).toEqual([]);
    // coming back: startup queries again
    const up = sim.up(LAN2, '192.168.2.1');
    expect(ofType(up, 'send-igmp').map((e) => e.interface)).toEqual([LAN2]);
  });

  it('an upstream re-created with a new ifindex without a down first is restarted', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.upcall(UP, '198.51.100.1', G);
    sim.runFor(5_000);
    const effects = sim.up(UP, '100.64.0.2', 24, 77);
    expect(ofType(effects, 'delete-route')).toHaveLength(1);
    expect(recordsOf(effects, UP)).toEqual([`to-exclude ${G} []`]);
    expect(sim.proxy.snapshot().upstreams[0]!.ifindex).toBe(77);
  });

  it('a quick reconnect keeps talking IGMPv2 to an IGMPv2 upstream querier', () => {
    const sim = standardSetup();
    sim.igmp(UP, '100.64.0.1', { type: 'query', version: 2, maxResponseMs: 10_000, group: 0 }, '224.0.0.1');
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.down(UP);
    sim.runFor(30_000);
    const up = sim.up(UP, '100.64.0.3');
    expect(
      ofType(up, 'send-igmp')
        .filter((e) => e.interface === UP)
        .map((e) => e.message.type),
    ).toEqual(['v2-report']);
  });

  it('interfaceUp again with the same interface changes nothing', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    const info = sim.proxy.snapshot().downstreams[0]!;
    const again = sim.proxy.interfaceUp({
      name: LAN1,
      ifindex: info.ifindex,
      address: ip('192.168.1.1'),
      prefixLength: 24,
    });
    expect(again.filter((e) => e.type !== 'log')).toEqual([]);
    expect(sim.proxy.snapshot().downstreams[0]!.groups).toHaveLength(1);
  });

  it('interfaces not configured, or disabled, are ignored', () => {
    const config = daemonConfig([phyint(UP, 'upstream'), phyint(LAN1, 'downstream'), phyint('wlan0', 'disabled')]);
    const sim = new SimulatedProxy(config);
    expect(ofType(sim.up('wlan0', '192.168.9.1'), 'send-igmp')).toEqual([]);
    expect(ofType(sim.up('eth5', '192.168.8.1'), 'send-igmp')).toEqual([]);
    expect(sim.proxy.snapshot().downstreams).toEqual([]);
  });
});

describe('reconfigure (SIGHUP)', () => {
  function populated(options: Parameters<typeof standardSetup>[0] = {}) {
    const sim = standardSetup({ secondUpstream: true, ...options });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.2'));
    sim.upcall(UP, '198.51.100.1', G);
    sim.upcall(UP2, '203.0.113.1', '239.1.1.2');
    sim.runFor(20_000);
    return sim;
  }

  it('unchanged interfaces keep groups and routes: no route or IGMP effects at all', () => {
    const sim = populated();
    const before = sim.proxy.snapshot();
    const effects = sim.reconfigure(standardConfig({ secondUpstream: true }));
    expect(effects.filter((e) => e.type !== 'log')).toEqual([]);
    const after = sim.proxy.snapshot();
    expect(after.routes).toEqual(before.routes);
    expect(after.downstreams).toEqual(before.downstreams);
    expect(after.upstreams).toEqual(before.upstreams);
  });

  it('a removed downstream loses its routes; the others stay', () => {
    const sim = populated();
    const config = standardConfig({ secondUpstream: true });
    const effects = sim.reconfigure({ ...config, interfaces: config.interfaces.filter((p) => p.name !== LAN2) });
    expect(ofType(effects, 'delete-route').map((d) => d.group)).toEqual([ip('239.1.1.2')]);
    expect(ofType(effects, 'set-route').map((r) => r.outputs.map((o) => o.interface))).toEqual([[LAN1]]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan1:1']);
    expect(recordsOf(effects, UP)).toEqual(['to-include 239.1.1.2 []']);
    expect(recordsOf(effects, UP2)).toEqual(['to-include 239.1.1.2 []']);
    expect(sim.proxy.snapshot().downstreams.map((d) => d.name)).toEqual([LAN1]);
  });

  it('a changed threshold only refreshes the routes through that downstream', () => {
    const sim = populated();
    const config = standardConfig({ secondUpstream: true });
    const effects = sim.reconfigure({
      ...config,
      interfaces: config.interfaces.map((p) => (p.name === LAN2 ? { ...p, threshold: 9 } : p)),
    });
    expect(ofType(effects, 'delete-route')).toEqual([]);
    expect(ofType(effects, 'send-igmp')).toEqual([]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan1:1', 'lan2:9']);
    expect(sim.outputs('203.0.113.1', '239.1.1.2')).toEqual(['lan2:9']);
  });

  it('a changed upstream rate limit re-sets only the routes through it', () => {
    const sim = populated();
    const config = standardConfig({ secondUpstream: true });
    const effects = sim.reconfigure({
      ...config,
      interfaces: config.interfaces.map((p) => (p.name === UP ? { ...p, rateLimit: 2_000 } : p)),
    });
    expect(ofType(effects, 'set-route').map((r) => [r.input, r.rateLimit])).toEqual([[UP, 2_000]]);
    expect(ofType(effects, 'delete-route')).toEqual([]);
    expect(ofType(effects, 'send-igmp')).toEqual([]);
    expect(sim.route('203.0.113.1', '239.1.1.2')?.rateLimit).toBe(500);
  });

  it('a removed upstream leaves its groups there and drops its routes', () => {
    const sim = populated();
    const config = standardConfig({ secondUpstream: true });
    const effects = sim.reconfigure({ ...config, interfaces: config.interfaces.filter((p) => p.name !== UP2) });
    expect(ofType(effects, 'delete-route').map((d) => d.input)).toEqual([UP2]);
    expect(recordsOf(effects, UP2).sort()).toEqual([`to-include ${G} []`, 'to-include 239.1.1.2 []']);
    expect(recordsOf(effects, UP)).toEqual([]);
    expect(sim.proxy.snapshot().upstreams.map((u) => u.name)).toEqual([UP]);
  });

  it('quickleave toggling takes effect', () => {
    const sim = populated({ quickLeave: false });
    sim.reconfigure(standardConfig({ secondUpstream: true, quickLeave: true }));
    expect(recordsOf(sim.igmp(LAN2, '192.168.2.20', v2Leave('239.1.1.2'), '224.0.0.2'), UP)).toEqual([
      'to-include 239.1.1.2 []',
    ]);
    sim.reconfigure(standardConfig({ secondUpstream: true, quickLeave: false }));
    sim.igmp(LAN2, '192.168.2.30', v2Report('239.1.1.3'));
    expect(recordsOf(sim.igmp(LAN2, '192.168.2.30', v2Leave('239.1.1.3'), '224.0.0.2'), UP)).toEqual([]);
    sim.runFor(1_999);
    expect(sim.observed(UP, '239.1.1.3')).toBeDefined();
    expect(recordsOf(sim.runFor(1), UP)).toEqual(['to-include 239.1.1.3 []']);
  });

  it('a changed downstream filter restarts that interface (its now-denied groups go)', () => {
    const sim = populated();
    const effects = sim.reconfigure(
      standardConfig({ secondUpstream: true, downstreamFilters: [['deny', '239.1.1.1/32']] }),
    );
    // lan1 was restarted: its only group went, lan2 still holds G so nothing leaves upstream
    expect(recordsOf(effects, UP)).toEqual([]);
    expect(sim.outputs('198.51.100.1', G)).toEqual(['lan2:2']);
    expect(recordsOf(sim.igmp(LAN1, '192.168.1.20', v2Report(G)), UP)).toEqual([]);
    expect(sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)!.groups).toEqual([]);
  });
});

describe('shutdown', () => {
  it('deletes every route and leaves every group on every upstream; no timers remain', () => {
    const sim = standardSetup({ secondUpstream: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.2'));
    sim.igmp(LAN2, '192.168.2.20', v3Report(record('allow', '232.1.1.1', ['198.51.100.1'])));
    sim.upcall(UP, '198.51.100.1', G);
    sim.upcall(UP2, '203.0.113.1', '239.1.1.2');
    sim.upcall(UP, '198.51.100.1', '232.1.1.1');
    sim.runFor(10_000);
    const effects = sim.shutdown();
    expect(ofType(effects, 'delete-route')).toHaveLength(3);
    expect(sim.kernelRoutes.size).toBe(0);
    for (const upstream of [UP, UP2]) {
      expect(recordsOf(effects, upstream)).toEqual([
        `block 232.1.1.1 [198.51.100.1]`,
        `to-include ${G} []`,
        'to-include 239.1.1.2 []',
      ]);
      expect(sim.upstreamView.get(upstream)!.size).toBe(0);
    }
    expect(sim.proxy.nextDeadline()).toBeUndefined();
  });
});

describe('a downstream whose address vanishes for a moment (carrier blip, renumbering)', () => {
  it('keeps its members, routes and querier state, and sends no query from 0.0.0.0 meanwhile', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report(G));
    sim.upcall(UP, '100.64.0.9', G);
    const ifindex = sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)!.ifindex;
    sim.runFor(200_000); // past the start-up queries: regular 125 s general queries
    sim.igmp(LAN1, '192.168.1.20', v2Report(G)); // the TV answers the queries
    const before = sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)!;
    const routes = [...sim.kernelRoutes.values()];
    expect(routes).toHaveLength(1);

    const gap = sim.up(LAN1, '0.0.0.0', 0, ifindex);
    expect(ofType(gap, 'delete-route')).toEqual([]);
    const during = sim.runFor(130_000); // a general query falls due in the gap
    expect(ofType(during, 'send-igmp').filter((e) => e.interface === LAN1 && e.source === 0)).toEqual([]);
    const back = sim.up(LAN1, '192.168.1.1', 24, ifindex);
    expect(ofType(back, 'delete-route')).toEqual([]);

    const after = sim.proxy.snapshot().downstreams.find((d) => d.name === LAN1)!;
    expect(after.groups.map((g) => g.group)).toEqual(before.groups.map((g) => g.group));
    expect(after.querier.querier).toBe(true);
    expect([...sim.kernelRoutes.values()]).toEqual(routes);
    const next = sim.runFor(130_000);
    expect(
      ofType(next, 'send-igmp')
        .filter((e) => e.interface === LAN1 && e.message.type === 'query')
        .map((e) => e.source),
    ).toEqual([ip('192.168.1.1')]);
  });
});
