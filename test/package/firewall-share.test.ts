// The firewall helper's per-host IGMP share, enforced by the real kernel: a router namespace
// with IPFire's IPTV chains and the helper's rules (rendered as the package renders them, the
// interface list from the real daemon), its downstream a bridge with three LAN hosts. One host
// floods valid IGMPv3 reports (scripts/lab/igmp-flood.c), another then sends a few; the
// first then forges thousands of source addresses, inside the subnet and outside it, and the
// third, a TV switched on afterwards, sends its first reports. The rules' packet counters and
// the hashlimit tables in /proc say what the kernel let through.
// The router joins 224.0.0.22 on the bridge (an address with autojoin) so the reports reach
// INPUT as they do on a router running the daemon; nothing reads them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_SHARE_VALUES } from '../../build/render.ts';
import { AddonFirewall, type ShareCounters } from '../../scripts/lab/addon-firewall.ts';
import { runFlood, type FloodPlan } from '../../scripts/lab/igmp-flood.ts';
import { NetnsLab, waitUntil, type Netns } from '../../scripts/lab/netns.ts';
import { realDaemonCommand } from '../helpers/real-daemon.ts';
import { HOST_TABLE, downstreamShareRules, hostShareTable, lanShareTable, lanTableMax } from './host-share.ts';
import { applianceSupport } from './support.ts';

const support = applianceSupport();

const DOWNSTREAM = 'hlbr0';
const FLOODER = { ifname: 'hla0', address: '10.77.0.2' };
const NEIGHBOUR = { ifname: 'hlb0', address: '10.77.0.3' };
/** Switched on after the forging: an address no rule has seen. */
const NEW_TV = { ifname: 'hlc0', address: '10.77.250.1' };
const SUBNET_PREFIX = 16;
const BURST = Number(HOST_SHARE_VALUES.hostShareBurst);
const RATE_PER_S = Number(HOST_SHARE_VALUES.hostShareRate);
const FLOOD_REPORTS = 3_000;
const FLOOD_RATE_PER_S = 20_000;
const NEIGHBOUR_REPORTS = 50;
const FLOOD_TIMEOUT_MS = 30_000;
const PATH_READY_TIMEOUT_MS = 10_000;
/** The downstream's own networks, as the rules name them: the unnumbered host's and the subnet. */
const LAN_NETWORKS = ['0.0.0.0/32', `10.77.0.0/${SUBNET_PREFIX}`];
const LAN_TABLE = lanShareTable(DOWNSTREAM, lanTableMax([32, SUBNET_PREFIX]));
/** Forged sources inside the subnet: 10.77.64.0 onwards (within 10.77.64.0/18, outside the hosts'). */
const FORGED_INSIDE = { first: (10 << 24) | (77 << 16) | (64 << 8), net: '10.77.64.0/18' };
/** Forged sources outside it: 172.16.0.0 onwards (within 172.16.0.0/16). */
const FORGED_OUTSIDE = { first: ((172 << 24) | (16 << 16)) >>> 0, net: '172.16.0.0/16' };
/** More of each than the catch-all table holds (the one table before the lan table existed). */
const FORGED_COUNT = HOST_TABLE.max + 500;
const NEW_TV_REPORTS = 10;

// One IGMPv3 report (a join of 239.77.0.1, IP TTL 1) from each of COUNT source addresses
// from FIRST on (as a 32-bit number), out of IFNAME: a host forging addresses. Paced in small
// batches so the receiving side's backlog never overflows; prints how many were sent.
const FORGER = `
import socket, struct, sys, time
ifname, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def checksum(data):
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
record = struct.pack('!BBH4s', 4, 0, 0, socket.inet_aton('239.77.0.1'))
body = struct.pack('!BBHHH', 0x22, 0, 0, 0, 1) + record
igmp = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
sent = 0
for i in range(count):
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0xc0, 20 + len(igmp), 0, 0, 1, 2, 0,
                         struct.pack('!I', first + i), socket.inet_aton('224.0.0.22'))
    sent += sock.sendto(header + igmp, ('224.0.0.22', 0)) > 0
    if i % 50 == 49:
        time.sleep(0.002)
print(sent)
`;
const SETTLE_TIMEOUT_MS = 2_000;

/** `count` IGMPv3 joins from `ifname` at `ratePerSecond` (small groups, no big reports). */
function reports(ifname: string, count: number, ratePerSecond: number): FloodPlan {
  return {
    ifname,
    ratePerSecond,
    durationMs: Math.ceil((count * 1000) / ratePerSecond),
    groupBase: '239.77.0.0',
    groupCount: 16,
    bigEvery: 0,
    bigSources: 0,
  };
}

describe.skipIf(!support.available)(`per-host IGMP share in the kernel ${support.reason}`, () => {
  const lab = new NetnsLab('hl');
  let router: Netns;
  let flooder: Netns;
  let neighbour: Netns;
  let newTv: Netns;
  let work = '';
  let firewall: AddonFirewall | undefined;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'hl-share-'));
    const config = path.join(work, 'igmpproxy.conf');
    await writeFile(config, `phyint hlup0 upstream\nphyint ${DOWNSTREAM} downstream\n`);

    router = await lab.createNamespace('rtr');
    flooder = await lab.createNamespace('flood');
    neighbour = await lab.createNamespace('tv');
    newTv = await lab.createNamespace('newtv');
    for (const [host, peer, port] of [
      [flooder, FLOODER, 'hlra'],
      [neighbour, NEIGHBOUR, 'hlrb'],
      [newTv, NEW_TV, 'hlrc'],
    ] as const) {
      await lab.connect(host, peer.ifname, router, port);
      await host.addAddress(peer.ifname, `${peer.address}/${SUBNET_PREFIX}`);
      await host.up(peer.ifname);
    }
    await router.bridge(DOWNSTREAM, ['hlra', 'hlrb', 'hlrc']);
    await router.addAddress(DOWNSTREAM, `10.77.0.1/${SUBNET_PREFIX}`);
    // IPFire's rp_filter=1 would drop the sources forged outside the subnet in routing, before
    // any rule; off, they reach the rules, which must hold without it (a user may relax it).
    await router.sysctl('net.ipv4.conf.all.rp_filter', 0);
    await router.sysctl(`net.ipv4.conf.${DOWNSTREAM}.rp_filter`, 0);
    await router.ip('address', 'add', '224.0.0.22/32', 'dev', DOWNSTREAM, 'autojoin');
    // The router's own report of that group would loop back into the counters.
    await router.sysctl('net.ipv4.igmp_link_local_mcast_reports', 0);
    // IPFire's hook chains, legacy iptables, the helper as the package renders it.
    firewall = await AddonFirewall.install(router, realDaemonCommand(), config);
    const start = await firewall.helper('start');
    expect(start.code, start.stderr).toBe(0);
    await waitUntil(pathReady, PATH_READY_TIMEOUT_MS, 'the bridge ports to forward');
  });

  afterAll(async () => {
    await firewall?.dispose();
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function firewallHelper(action: string): ReturnType<AddonFirewall['helper']> {
    if (firewall === undefined) throw new Error('no firewall helper');
    return firewall.helper(action);
  }

  /** Packets counted by the downstream's share DROP rules and its ACCEPT rules (all of its sources). */
  function counters(): Promise<ShareCounters> {
    if (firewall === undefined) throw new Error('no firewall helper');
    return firewall.shareCounters(DOWNSTREAM);
  }

  /** Packets from `source` (an address or network) seen entering IPTVINPUT, by a counting rule of this test's, first in it. */
  async function seenAtInput(source: string): Promise<number> {
    const rows = (await router.run(['iptables-legacy', '-L', 'IPTVINPUT', '-v', '-x', '-n']))
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((words) => words[6] === source); // pkts bytes prot opt in out source: no target
    if (rows.length !== 1) throw new Error(`no counting rule for ${source} in IPTVINPUT`);
    return Number(rows[0]![0]);
  }

  /** The source addresses a hashlimit table tracks now. */
  async function tableSources(table: string): Promise<string[]> {
    const lines = (await router.run(['cat', `/proc/net/ipt_hashlimit/${table}`])).trim().split('\n');
    return lines.filter((line) => line !== '').map((line) => line.split(/\s+/)[1]!.split(':')[0]!);
  }

  it("the rules are in place: the downstream's own networks in the lan table, then everything else", async () => {
    const rules = (await router.run(['iptables-legacy', '-S', 'IGMPPROXY_IN'])).split('\n');
    const first = rules.findIndex((rule) => rule.includes(` -i ${DOWNSTREAM} `));
    expect(first).toBeGreaterThan(0);
    const expected = downstreamShareRules(DOWNSTREAM, LAN_NETWORKS);
    expect(rules.slice(first, first + expected.length)).toEqual(expected);
    // Sized for every address of the /16 and 0.0.0.0.
    expect(expected[0]).toContain(' --hashlimit-htable-max 65537 ');
  });

  /** Every veth end up with carrier and both bridge ports forwarding: until the kernel's link
   * watch has seen the carrier (up to a second), a new bridge port drops what it receives. */
  async function pathReady(): Promise<boolean> {
    const operUp = async (host: Netns, ifname: string) =>
      (JSON.parse(await host.ip('-j', 'link', 'show', 'dev', ifname)) as { operstate: string }[])[0]?.operstate ===
      'UP';
    const ports = JSON.parse(await router.run(['bridge', '-j', 'link', 'show'])) as { ifname: string; state: string }[];
    return (
      (await operUp(flooder, FLOODER.ifname)) &&
      (await operUp(neighbour, NEIGHBOUR.ifname)) &&
      (await operUp(newTv, NEW_TV.ifname)) &&
      ports.filter((port) => port.state === 'forwarding').length === 3
    );
  }

  /** The counters once they account for `total` more packets than `from` (a sender's last
   * packets may still be queued in the kernel when it exits), or as they are after the wait. */
  async function countersAfter(from: ShareCounters, total: number): Promise<ShareCounters> {
    let now = await counters();
    const arrived = () => now.accepted - from.accepted + now.dropped - from.dropped >= total;
    await waitUntil(
      async () => {
        now = await counters();
        return arrived();
      },
      SETTLE_TIMEOUT_MS,
      `${total} packets counted`,
    ).catch(() => undefined);
    return now;
  }

  it("a flooding host gets its share through, the rest is dropped; another host's reports all pass", async () => {
    const before = await counters();
    const started = performance.now();
    const flood = await runFlood(flooder, reports(FLOODER.ifname, FLOOD_REPORTS, FLOOD_RATE_PER_S), FLOOD_TIMEOUT_MS);
    const elapsedS = (performance.now() - started) / 1000;
    const afterFlood = await countersAfter(before, flood.sent);
    expect(flood.sent).toBeGreaterThan(2 * BURST);
    const accepted = afterFlood.accepted - before.accepted;
    const dropped = afterFlood.dropped - before.dropped;
    // Everything the flooder sent met the two rules: none was lost on the way (so the counts
    // below are the kernel's decisions, not a queue overflowing elsewhere).
    expect(accepted + dropped).toBe(flood.sent);
    // The whole burst at once, then the rate for as long as the flood lasted, at most
    // (the wall time around the flood bounds the refill from above).
    expect(accepted).toBeGreaterThanOrEqual(BURST);
    expect(accepted).toBeLessThanOrEqual(BURST + Math.ceil(RATE_PER_S * elapsedS) + 1);
    expect(dropped).toBeGreaterThan(0);

    // A TV on the same downstream right after: its own share, untouched by the flood.
    const tv = await runFlood(neighbour, reports(NEIGHBOUR.ifname, NEIGHBOUR_REPORTS, 1_000), FLOOD_TIMEOUT_MS);
    expect(tv.sent).toBe(NEIGHBOUR_REPORTS);
    const afterTv = await countersAfter(afterFlood, tv.sent);
    expect(afterTv.accepted - afterFlood.accepted).toBe(NEIGHBOUR_REPORTS);
    expect(afterTv.dropped - afterFlood.dropped).toBe(0);

    // One entry per source address, in the downstream's lan table; the other is empty.
    expect(await tableSources(LAN_TABLE)).toEqual(expect.arrayContaining([FLOODER.address, NEIGHBOUR.address]));
    expect(await tableSources(hostShareTable(DOWNSTREAM))).toEqual([]);
  });

  it('a host forging thousands of addresses, inside the subnet and outside: a TV switched on afterwards gets every report through', async () => {
    for (const source of [FORGED_INSIDE.net, FORGED_OUTSIDE.net, NEW_TV.address]) {
      await router.run(['iptables-legacy', '-I', 'IPTVINPUT', '-s', source, '-p', 'igmp']);
    }
    // The forger: one report from each of FORGED_COUNT addresses inside the subnet, then as many outside it.
    for (const forged of [FORGED_INSIDE, FORGED_OUTSIDE]) {
      const sent = await flooder.run([
        'python3',
        '-c',
        FORGER,
        FLOODER.ifname,
        String(forged.first),
        String(FORGED_COUNT),
      ]);
      expect(Number(sent)).toBe(FORGED_COUNT);
      // Every one reached the rules (none lost on the way: the tables below are the rules' doing).
      await waitUntil(
        async () => (await seenAtInput(forged.net)) >= FORGED_COUNT,
        SETTLE_TIMEOUT_MS,
        `the reports forged from ${forged.net} at INPUT`,
      ).catch(() => undefined);
      expect(await seenAtInput(forged.net)).toBe(FORGED_COUNT);
    }

    // The TV switched on now: each of its reports passes (once the old rules' one table was
    // full, xt_hashlimit dropped IGMP from every address it did not know yet).
    const before = await counters();
    const tv = await runFlood(newTv, reports(NEW_TV.ifname, NEW_TV_REPORTS, 1_000), FLOOD_TIMEOUT_MS);
    expect(tv.sent).toBe(NEW_TV_REPORTS);
    const after = await countersAfter(before, tv.sent);
    expect(await seenAtInput(NEW_TV.address)).toBe(NEW_TV_REPORTS);
    expect(after.accepted - before.accepted).toBe(NEW_TV_REPORTS);
    expect(after.dropped).toBe(before.dropped);

    // The lan table holds the forged subnet addresses, more than the old bound, and the TV; the
    // outside ones filled only the catch-all table, which stops at its bound.
    const lan = await tableSources(LAN_TABLE);
    expect(lan).toContain(NEW_TV.address);
    expect(lan.filter((address) => address.startsWith('10.77.') && Number(address.split('.')[2]) >= 64)).toHaveLength(
      FORGED_COUNT + 1,
    );
    expect(lan.length).toBeGreaterThan(HOST_TABLE.max);
    expect(lan.filter((address) => address.startsWith('172.16.'))).toEqual([]);
    const other = await tableSources(hostShareTable(DOWNSTREAM));
    expect(other.length).toBe(HOST_TABLE.max);
    expect(other.every((address) => address.startsWith('172.16.'))).toBe(true);

    // The TVs already known keep their share too.
    const known = await counters();
    const tv2 = await runFlood(neighbour, reports(NEIGHBOUR.ifname, 10, 1_000), FLOOD_TIMEOUT_MS);
    const afterKnown = await countersAfter(known, tv2.sent);
    expect(afterKnown.accepted - known.accepted).toBe(tv2.sent);
    expect(afterKnown.dropped).toBe(known.dropped);
  });

  it('stop removes the rules and the table with them', async () => {
    const stop = await firewallHelper('stop');
    expect(stop.code, stop.stderr).toBe(0);
    expect(await router.run(['iptables-legacy', '-S'])).not.toContain('hashlimit');
    expect((await router.run(['ls', '/proc/net/ipt_hashlimit'])).trim()).toBe('');
  });
});
