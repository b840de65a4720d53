// The add-on's IPTV rules inside IPFire's REAL firewall: IPFire's own firewall initscript
// and firewall-policy (test/fixtures/ipfire, vendored) build the filter table in a network
// namespace of this test, in the throwaway appliance root; the package is installed the way
// Pakfire does it. Real IGMP datagrams are then sent through and counted on raw sockets:
// a raw IGMP socket only gets what netfilter's INPUT let through, and a peer only sees what
// OUTPUT let out. Checked for the outgoing firewall "blocked" (POLICY1=MODE1) and "allowed",
// with one downstream on GREEN and one on ORANGE (IPFire's POLICYIN accepts only GREEN and
// BLUE). Then a multicast stream into the firewall is watched through IPFire's rule reloads
// (firewallctrl -> firewall.local reload) for a gap. No multicast routing needed: the stream
// is delivered locally through the same reload transaction that swaps the FORWARD rules.
//
// STAND-INS (see test/fixtures/ipfire/README.md and ipfire-firewall-setup.ts): firewallctrl
// is rules.pl reduced to what it runs for an empty rule set; the IPsec/OpenVPN/wireless/
// captive-portal helpers and modprobe do nothing; the daemon is
// test/fixtures/appliance/igmpproxy-standin (the real daemon but for running).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { buildIgmp } from '../../addon/daemon/igmp/codec.ts';
import { buildIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/types.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { NetnsLab, type Netns } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { LabDriver, type DriverEvent } from '../kernel/support.ts';
import { Appliance, buildStandinPackage } from './appliance.ts';
import { FIREWALLCTRL, setOutgoingPolicy, startIpfireFirewall } from './ipfire-firewall-setup.ts';
import { applianceSupport } from './support.ts';

const support = applianceSupport();
const PREFIX = 'ipfw';
const COUNT = 10;

// fw's side / the peer's side of each link.
const RED = { fw: 'ipfwred0', peer: 'ipfwisp0', fwAddress: '198.51.100.1', peerAddress: '198.51.100.2' };
const GREEN = { fw: 'ipfwgrn0', peer: 'ipfwlan0', fwAddress: '192.168.1.1', peerAddress: '192.168.1.10' };
const ORANGE = { fw: 'ipfworg0', peer: 'ipfwdmz0', fwAddress: '172.16.0.1', peerAddress: '172.16.0.10' };
type Link = typeof RED;

const NETWORK = {
  red: { dev: RED.fw, address: RED.fwAddress },
  green: { dev: GREEN.fw, address: GREEN.fwAddress, netaddress: '192.168.1.0' },
  orange: { dev: ORANGE.fw, address: ORANGE.fwAddress, netaddress: '172.16.0.0' },
};

const CONFIG = `quickleave
phyint ${RED.fw} upstream ratelimit 0 threshold 1
    altnet 198.51.100.0/24
phyint ${GREEN.fw} downstream ratelimit 0 threshold 1
phyint ${ORANGE.fw} downstream ratelimit 0 threshold 1
`;

let marker = 0xefff0000;
/** A group nobody uses, so each batch of datagrams is told from every other IGMP message. */
function nextMarker(): number {
  return ++marker;
}

/** One IGMP datagram as a raw socket with IP_HDRINCL sends it (TTL 1, Router Alert). */
function datagram(source: string, destination: string, message: IgmpMessage): string {
  return Buffer.from(
    buildIpv4Packet({
      source: parseIpv4(source)!,
      destination: parseIpv4(destination)!,
      ttl: 1,
      tos: 0xc0,
      protocol: 2,
      routerAlert: true,
      payload: buildIgmp(message),
    }),
  ).toString('hex');
}

function markedGroup(event: DriverEvent): number | undefined {
  const message = event.message as { group?: number; records?: Array<{ group: number }> } | undefined;
  return message?.group || message?.records?.[0]?.group;
}

describe.skipIf(!support.available)(
  `add-on rules inside IPFire's real firewall ${support.reason}`,
  { timeout: scaled(240_000) },
  () => {
    const lab = new NetnsLab(PREFIX);
    let work = '';
    let pkg: PackageFiles;
    let fwNs: Netns;
    let a: Appliance;
    const drivers: Record<'fw' | 'isp' | 'lan' | 'dmz', LabDriver> = {} as never;
    const peerOf = new Map<Link, LabDriver>();

    beforeAll(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'ipfw-fw-'));
      pkg = await buildStandinPackage(work);
      fwNs = await lab.createNamespace('fw');
      const peers = { isp: RED, lan: GREEN, dmz: ORANGE } as const;
      for (const [role, link] of Object.entries(peers)) {
        const peer = await lab.createNamespace(role);
        await lab.connect(fwNs, link.fw, peer, link.peer);
        await fwNs.addAddress(link.fw, `${link.fwAddress}/24`);
        await peer.addAddress(link.peer, `${link.peerAddress}/24`);
        await fwNs.up(link.fw);
        await peer.up(link.peer);
        drivers[role as 'isp'] = await LabDriver.start(peer);
        peerOf.set(link, drivers[role as 'isp']);
      }
      drivers.fw = await LabDriver.start(fwNs);

      a = await Appliance.create(fwNs);
      await startIpfireFirewall(a, NETWORK, 'MODE1');

      // What the proxy's sockets would see: a raw IGMP socket on the firewall, joined to the
      // IGMPv3 report group on the downstreams (as the daemon does), and one on each peer.
      await drivers.fw.call('sniff');
      for (const link of [GREEN, ORANGE]) {
        await drivers.fw.call('udp-listen', { port: 9, group: '224.0.0.22', interfaceAddress: link.fwAddress });
      }
      for (const peer of [drivers.isp, drivers.lan, drivers.dmz]) await peer.call('sniff');
      await drivers.isp.call('udp-listen', { port: 9, group: '224.0.0.22', interfaceAddress: RED.peerAddress });
    }, scaled(120_000));

    afterAll(async () => {
      await a?.dispose();
      await lab.cleanup();
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** Sends COUNT marked datagrams from `sender` out of `ifname`; counts them at `receiver`. */
    async function countThrough(
      sender: LabDriver,
      ifname: string,
      receiver: LabDriver,
      hex: (group: number) => string,
      destination: string,
    ): Promise<number> {
      const group = nextMarker();
      const from = receiver.mark;
      const sent = await sender.request('raw-send', { name: ifname, destination, hex: hex(group), count: COUNT });
      // A DROP in the sender's OUTPUT chain fails sendmsg with EPERM: nothing left the box.
      if (!sent.ok && sent.code === 'EPERM') return 0;
      if (!sent.ok) throw new Error(`raw-send failed: ${sent.code ?? ''} ${sent.message ?? ''}`);
      const ours = (event: DriverEvent): boolean => event.event === 'sniffed' && markedGroup(event) === group;
      // All arrive within moments on a veth; none may come at all (dropped): wait, bounded.
      const deadline = Date.now() + scaled(1_500);
      while (Date.now() < deadline && receiver.events(ours, from).length < COUNT)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, scaled(100)));
      return receiver.events(ours, from).length;
    }

    /** Reports from a receiver behind `link`, as counted by the firewall's raw socket. */
    function reportsIn(link: Link): Promise<number> {
      const v3 = (group: number) =>
        datagram(link.peerAddress, '224.0.0.22', {
          type: 'v3-report',
          records: [{ recordType: 'to-exclude', group, sources: [] }],
        });
      return countThrough(peerOf.get(link)!, link.peer, drivers.fw, v3, '224.0.0.22');
    }

    /** The provider's queries arriving on red. */
    function queriesIn(): Promise<number> {
      const query = (group: number) =>
        datagram(RED.peerAddress, '224.0.0.1', { type: 'query', version: 2, maxResponseMs: 1_000, group });
      return countThrough(drivers.isp, RED.peer, drivers.fw, query, '224.0.0.1');
    }

    /** What the proxy sends on `link`: queries downstream, reports upstream. */
    function sentOut(link: Link): Promise<number> {
      if (link === RED) {
        const v3 = (group: number) =>
          datagram(RED.fwAddress, '224.0.0.22', {
            type: 'v3-report',
            records: [{ recordType: 'to-exclude', group, sources: [] }],
          });
        return countThrough(drivers.fw, RED.fw, drivers.isp, v3, '224.0.0.22');
      }
      const query = (group: number) =>
        datagram(link.fwAddress, '224.0.0.1', { type: 'query', version: 2, maxResponseMs: 1_000, group });
      return countThrough(drivers.fw, link.fw, peerOf.get(link)!, query, '224.0.0.1');
    }

    async function everyPath(): Promise<Record<string, number>> {
      return {
        reportsFromGreen: await reportsIn(GREEN),
        reportsFromOrange: await reportsIn(ORANGE),
        queriesFromRed: await queriesIn(),
        queriesToGreen: await sentOut(GREEN),
        queriesToOrange: await sentOut(ORANGE),
        reportsToRed: await sentOut(RED),
      };
    }

    const ALL_THROUGH = {
      reportsFromGreen: COUNT,
      reportsFromOrange: COUNT,
      queriesFromRed: COUNT,
      queriesToGreen: COUNT,
      queriesToOrange: COUNT,
      reportsToRed: COUNT,
    };

    it("without the add-on, IPFire's policy drops what the proxy needs (the control: the fixture bites)", async () => {
      expect(await everyPath()).toEqual({
        reportsFromGreen: COUNT, // POLICYIN accepts GREEN
        reportsFromOrange: 0,
        queriesFromRed: 0,
        queriesToGreen: 0, // outgoing "blocked"
        queriesToOrange: 0,
        reportsToRed: 0,
      });
    });

    it('installed, outgoing firewall "blocked": every IGMP path of the configured interfaces is open', async () => {
      await a.write('/etc/igmpproxy.conf', CONFIG);
      const installed = await a.pakfire('install', pkg.ipfire, pkg.meta);
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);
      expect(await everyPath()).toEqual(ALL_THROUGH);
    });

    it('outgoing firewall "allowed" (IPFire reloads its rules): every path still open', async () => {
      await setOutgoingPolicy(a, 'MODE2');
      expect(await everyPath()).toEqual(ALL_THROUGH);
      await setOutgoingPolicy(a, 'MODE1');
      expect(await everyPath()).toEqual(ALL_THROUGH);
    });

    it('a multicast stream from upstream sees no gap while IPFire reloads its rules again and again', async () => {
      const total = 2_000; // lab-driver's upper bound for one udp-send
      const group = '239.77.1.1';
      const port = 5004;
      await drivers.fw.call('udp-listen', { port, group, interfaceAddress: RED.fwAddress });
      await drivers.fw.waitForEvent((event) => event.event === 'listening' && event.group === group, scaled(5_000));
      const from = drivers.fw.mark;
      const received = (): number =>
        drivers.fw.events((event) => event.event === 'udp' && event.from === RED.peerAddress, from).length;
      await drivers.isp.call('udp-send', {
        group,
        port,
        interfaceAddress: RED.peerAddress,
        count: total,
        intervalMs: scaled(2),
        ttl: 4,
      });
      await drivers.fw.waitForEvent((event) => event.event === 'udp', scaled(5_000), from);

      // Reloads run back to back until the test says stop (a file), at most 200.
      const stopFile = '/tmp/ipfw-stop-reloading';
      const reloading = a.run(
        `n=0
while [ "$n" -lt 200 ] && [ ! -e ${stopFile} ]; do ${FIREWALLCTRL} > /dev/null || exit 1; n=$((n + 1)); done
echo "reloads=$n"`,
        scaled(120_000),
      );
      const receivedAtFirstReload = received();
      const lastPacketDeadline = Date.now() + scaled(60_000);
      const isLast = (event: DriverEvent): boolean => event.event === 'udp' && event.text === `packet ${total}`;
      while (Date.now() < lastPacketDeadline && drivers.fw.events(isLast, from).length === 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await a.write(stopFile, '');
      const loop = await reloading;
      expect(loop.code, loop.stdout + loop.stderr).toBe(0);
      const reloads = Number(/reloads=(\d+)/.exec(loop.stdout)?.[1]);
      await new Promise((r) => setTimeout(r, scaled(300)));

      expect(receivedAtFirstReload).toBeLessThan(total / 2);
      expect(reloads).toBeGreaterThanOrEqual(2);
      const numbers = drivers.fw
        .events((event) => event.event === 'udp' && event.from === RED.peerAddress, from)
        .map((event) => Number(String(event.text).replace('packet ', '')));
      const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !numbers.includes(n));
      expect({ reloads, missing }).toEqual({ reloads, missing: [] });
    });
  },
);
