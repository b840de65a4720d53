// End-to-end proof in network namespaces that the kernel adapter drives REAL multicast
// routing: IGMP reports arrive with their ingress ifindex, NOCACHE upcalls arrive, the MFC
// entry we add makes the kernel forward UDP multicast to the right downstream only, our
// queries leave on the chosen interface with Router Alert, and MRT_DONE cleans up.
//
//   isp ns                 proxy ns (driver: MrouteSocket, VifTable, executor)       client ns
//   ipk4isp 10.1.0.2 ── ipk4up 10.1.0.1   ipk4dn 10.2.0.1 ───────────────── ipk4c0 10.2.0.2 (IGMPv2)
//                                          ipk4dn2 10.3.0.1 ─────────────── ipk4c1 10.3.0.2 (IGMPv3)
//                                                                            client2 ns
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns } from '../../scripts/lab/netns.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { LabDriver, NETNS_PREFIX } from './support.ts';
import type { DriverEvent } from './support.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const support = checkNetnsSupport(NETNS_PREFIX);
if (!support.available) console.warn(`kernel forwarding tests skipped: ${support.reason}`);

const GROUP = '239.1.1.1';
const GROUP_NUMBER = parseIpv4(GROUP) as number;
const PORT = 5000;
const ISP_SOURCE = '10.1.0.2';

interface IgmpEvent extends DriverEvent {
  ifindex: number;
  source: string;
  message: { type: string; group?: number; records?: { recordType: string; group: number }[] };
}

const isIgmp = (event: DriverEvent): event is IgmpEvent => event.event === 'igmp';

describe.skipIf(!support.available)('kernel multicast forwarding in namespaces', () => {
  const lab = new NetnsLab(NETNS_PREFIX);
  let proxy: Netns;
  let proxyDriver: LabDriver;
  let ispDriver: LabDriver;
  let clientDriver: LabDriver;
  let client2Driver: LabDriver;
  const ifindex: Record<string, number> = {};
  const vif: Record<string, number> = {};

  beforeAll(async () => {
    const isp = await lab.createNamespace('isp');
    proxy = await lab.createNamespace('proxy');
    const client = await lab.createNamespace('client');
    const client2 = await lab.createNamespace('client2');
    await lab.connect(proxy, 'ipk4up', isp, 'ipk4isp');
    await lab.connect(proxy, 'ipk4dn', client, 'ipk4c0');
    await lab.connect(proxy, 'ipk4dn2', client2, 'ipk4c1');
    const addressing: [Netns, string, string][] = [
      [isp, 'ipk4isp', '10.1.0.2/24'],
      [proxy, 'ipk4up', '10.1.0.1/24'],
      [proxy, 'ipk4dn', '10.2.0.1/24'],
      [client, 'ipk4c0', '10.2.0.2/24'],
      [proxy, 'ipk4dn2', '10.3.0.1/24'],
      [client2, 'ipk4c1', '10.3.0.2/24'],
    ];
    for (const [namespace, name, cidr] of addressing) {
      await namespace.addAddress(name, cidr);
      await namespace.up(name);
    }
    // Clients reach the source's subnet through the proxy, as LAN hosts do; with strict
    // rp_filter (inherited from the host on some systems) a multicast packet from a source
    // the client has no route to would be dropped as martian before reaching the socket.
    await client.ip('route', 'add', 'default', 'via', '10.2.0.1');
    await client2.ip('route', 'add', 'default', 'via', '10.3.0.1');
    // Hosts speak the IGMP version we want to prove: v2 on one downstream, v3 on the other.
    await client.sysctl('net.ipv4.conf.ipk4c0.force_igmp_version', 2);
    await client2.sysctl('net.ipv4.conf.ipk4c1.force_igmp_version', 3);
    // No net.ipv4.ip_forward needed: multicast forwarding depends only on the VIFs/MFC.
    // The source 10.1.0.2 is on the upstream's own subnet, so the reverse-path check passes
    // either way; rp_filter is set off explicitly so the test does not depend on what the
    // host's defaults leak into new namespaces (IPTV sources are often not on the route
    // back, which is why IPFire setups switch it off on the upstream).
    await proxy.sysctl('net.ipv4.conf.all.rp_filter', 0);
    await proxy.sysctl('net.ipv4.conf.ipk4up.rp_filter', 0);

    for (const name of ['ipk4up', 'ipk4dn', 'ipk4dn2']) ifindex[name] = await proxy.ifindex(name);
    ifindex.ipk4c0 = await client.ifindex('ipk4c0');
    ifindex.ipk4c1 = await client2.ifindex('ipk4c1');

    [proxyDriver, ispDriver, clientDriver, client2Driver] = await Promise.all([
      LabDriver.start(proxy),
      LabDriver.start(isp),
      LabDriver.start(client),
      LabDriver.start(client2),
    ]);
    await proxyDriver.call('open');
    for (const name of ['ipk4up', 'ipk4dn', 'ipk4dn2'])
      vif[name] = Number((await proxyDriver.call('add-vif', { name })).vif);
    for (const name of ['ipk4dn', 'ipk4dn2']) await proxyDriver.call('join-control', { name });
    await clientDriver.call('sniff');
    await client2Driver.call('sniff');
  }, scaled(60_000));

  afterAll(() => lab.cleanup(), 30_000);

  test('VIFs are numbered from 0 and the kernel lists them by interface name', async () => {
    expect(vif).toEqual({ ipk4up: 0, ipk4dn: 1, ipk4dn2: 2 });
    const { vifs } = (await proxyDriver.call('stats')) as unknown as {
      vifs: { vif: number; name: string; flags: number }[];
    };
    expect(vifs.map(({ vif: number, name }) => [number, name])).toEqual([
      [0, 'ipk4up'],
      [1, 'ipk4dn'],
      [2, 'ipk4dn2'],
    ]);
    for (const entry of vifs) expect(entry.flags & 0x8).toBe(0x8); // VIFF_USE_IFINDEX
  });

  test('a v2 and a v3 membership report arrive with the ingress ifindex of their downstream', async () => {
    const from = proxyDriver.mark;
    await clientDriver.call('udp-listen', { group: GROUP, port: PORT, interfaceAddress: '10.2.0.2' });
    await client2Driver.call('udp-listen', { group: GROUP, port: PORT, interfaceAddress: '10.3.0.2' });

    const v2 = (await proxyDriver.waitForEvent(
      (event) => isIgmp(event) && event.message.type === 'v2-report' && event.message.group === GROUP_NUMBER,
      5_000,
      from,
    )) as IgmpEvent;
    expect(v2.ifindex).toBe(ifindex.ipk4dn);
    expect(v2.source).toBe('10.2.0.2');

    const v3 = (await proxyDriver.waitForEvent(
      (event) =>
        isIgmp(event) &&
        event.message.type === 'v3-report' &&
        (event.message.records ?? []).some((record) => record.group === GROUP_NUMBER),
      5_000,
      from,
    )) as IgmpEvent;
    expect(v3.ifindex).toBe(ifindex.ipk4dn2);
    expect(v3.source).toBe('10.3.0.2');
    expect(v3.message.records?.find((record) => record.group === GROUP_NUMBER)?.recordType).toBe('to-exclude');
    // No report of one client was attributed to the other's interface. The proxy's own
    // kernel reports its control-group joins (224.0.0.x) on each downstream, at random
    // times after the join, and they loop back: they belong to their own interface too.
    const ingressOf: Record<string, number | undefined> = {
      '10.2.0.2': ifindex.ipk4dn,
      '10.2.0.1': ifindex.ipk4dn,
      '10.3.0.2': ifindex.ipk4dn2,
      '10.3.0.1': ifindex.ipk4dn2,
    };
    const reports = proxyDriver.events((event) => isIgmp(event), from) as IgmpEvent[];
    for (const report of reports)
      expect([report.source, report.ifindex]).toEqual([report.source, ingressOf[report.source]]);
  });

  test('the kernel asks for a route (NOCACHE), and the MFC entry forwards to the chosen downstream only', async () => {
    const from = proxyDriver.mark;
    const clientFrom = clientDriver.mark;
    const client2From = client2Driver.mark;
    await ispDriver.call('udp-send', {
      group: GROUP,
      port: PORT,
      interfaceAddress: ISP_SOURCE,
      ttl: 8,
      intervalMs: 50,
      count: 1_000,
    });

    const upcall = await proxyDriver.waitForEvent((event) => event.event === 'upcall', 5_000, from);
    expect(upcall).toMatchObject({ kind: 'nocache', vif: vif.ipk4up, source: ISP_SOURCE, group: GROUP });
    // Without a route nothing reaches the clients.
    expect(clientDriver.events((event) => event.event === 'udp', clientFrom)).toEqual([]);

    const added = await proxyDriver.call('effects', {
      effects: [
        {
          type: 'set-route',
          source: ISP_SOURCE,
          group: GROUP,
          input: 'ipk4up',
          outputs: [{ interface: 'ipk4dn', threshold: 1 }],
          rateLimit: 0,
        },
      ],
    });
    expect(added.logs).toEqual([]);
    const received = await clientDriver.waitForEvent((event) => event.event === 'udp', 5_000, clientFrom);
    expect(received.from).toBe(ISP_SOURCE);
    expect(String(received.text)).toMatch(/^packet \d+$/);
    // Give the route a few more packets, then check client2 (not an output) got none.
    await clientDriver.waitForEvent((event) => event.event === 'udp', 5_000, received.index + 1);
    expect(client2Driver.events((event) => event.event === 'udp', client2From)).toEqual([]);

    const { routes } = (await proxyDriver.call('stats')) as unknown as { routes: Record<string, unknown>[] };
    const route = routes.find((entry) => entry.group === GROUP && entry.source === ISP_SOURCE);
    expect(route).toMatchObject({ inputVif: vif.ipk4up, outputs: [{ vif: vif.ipk4dn, ttl: 1 }] });
    expect(Number(route?.packets)).toBeGreaterThan(0);

    // Replacing the entry adds the second downstream.
    const client2Now = client2Driver.mark;
    await proxyDriver.call('effects', {
      effects: [
        {
          type: 'set-route',
          source: ISP_SOURCE,
          group: GROUP,
          input: 'ipk4up',
          rateLimit: 0,
          outputs: [
            { interface: 'ipk4dn', threshold: 1 },
            { interface: 'ipk4dn2', threshold: 1 },
          ],
        },
      ],
    });
    const second = await client2Driver.waitForEvent((event) => event.event === 'udp', 5_000, client2Now);
    expect(second.from).toBe(ISP_SOURCE);
  });

  test('deleting the route stops forwarding and the kernel asks again', async () => {
    const from = proxyDriver.mark;
    const deleted = await proxyDriver.call('effects', {
      effects: [{ type: 'delete-route', source: ISP_SOURCE, group: GROUP, input: 'ipk4up' }],
    });
    expect(deleted.logs).toEqual([]);
    const upcall = await proxyDriver.waitForEvent((event) => event.event === 'upcall', 5_000, from);
    expect(upcall).toMatchObject({ kind: 'nocache', source: ISP_SOURCE, group: GROUP });
    const { routes } = (await proxyDriver.call('stats')) as unknown as {
      routes: { source: string; outputs: unknown[] }[];
    };
    // Only the unresolved (queued) entry may remain, with no outputs.
    for (const route of routes.filter((entry) => entry.source === ISP_SOURCE)) expect(route.outputs).toEqual([]);
    await ispDriver.call('udp-stop');

    // Deleting a route that is not there is logged at debug level, not fatal.
    const again = await proxyDriver.call('effects', {
      effects: [
        { type: 'delete-route', source: '10.1.0.99', group: GROUP, input: 'ipk4up' },
        { type: 'log', level: 'info', message: 'still running' },
      ],
    });
    expect(again.logs).toEqual([
      { level: 'debug', message: expect.stringMatching(/delete-route .*10\.1\.0\.99.*ENOENT|No such file/) },
      { level: 'info', message: 'still running' },
    ]);
  });

  test('a query goes out of the chosen downstream only, with TTL 1, TOS 0xc0 and Router Alert', async () => {
    const clientFrom = clientDriver.mark;
    const client2From = client2Driver.mark;
    await proxyDriver.call('effects', {
      effects: [
        {
          type: 'send-igmp',
          interface: 'ipk4dn2',
          source: '10.3.0.1',
          destination: '224.0.0.1',
          message: { type: 'query', version: 2, maxResponseMs: 1_000, group: 0 },
        },
      ],
    });
    const isQuery = (event: DriverEvent): boolean =>
      event.event === 'sniffed' && (event.message as { type?: string }).type === 'query';
    const query = await client2Driver.waitForEvent(isQuery, 5_000, client2From);
    expect(query).toMatchObject({
      ifindex: ifindex.ipk4c1,
      source: '10.3.0.1',
      destination: '224.0.0.1',
      ttl: 1,
      tos: 0xc0,
      routerAlert: true,
      message: { type: 'query', version: 2, maxResponseMs: 1_000, group: 0 },
    });
    // Same wire, other downstream: still nothing after the sibling saw its copy.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(clientDriver.events(isQuery, clientFrom)).toEqual([]);
  });

  test('a second MRT_INIT in the same namespace fails with a clear EADDRINUSE error', async () => {
    const reply = await proxyDriver.request('open-second');
    expect(reply.ok).toBe(false);
    expect(reply.code).toBe('EADDRINUSE');
    expect(reply.name).toBe('MrouteInUseError');
    expect(reply.message).toMatch(/another multicast router \(igmpproxy, pimd, smcroute/);
  });

  test('MRT_DONE and close leave no VIF and no route behind', async () => {
    const before = await proxy.run(['cat', '/proc/net/ip_mr_vif']);
    expect(before.trim().split('\n').length).toBeGreaterThan(1);
    await proxyDriver.call('close');
    const vifs = await proxy.run(['cat', '/proc/net/ip_mr_vif']);
    const cache = await proxy.run(['cat', '/proc/net/ip_mr_cache']);
    expect(vifs.trim().split('\n')).toHaveLength(1); // header only
    expect(cache.trim().split('\n')).toHaveLength(1);
    // And the namespace is free for a new multicast router.
    await proxyDriver.call('open');
    await proxyDriver.call('close');
  });
});
