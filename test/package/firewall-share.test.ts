// The firewall helper's per-host IGMP share, enforced by the real kernel: a router namespace
// with IPFire's IPTV chains and the helper's rules (rendered as the package renders them, the
// interface list from the real daemon), its downstream a bridge with two LAN hosts. One host
// floods valid IGMPv3 reports (scripts/lab/igmp-flood.c), the other then sends a few; the
// rules' packet counters and the hashlimit table in /proc say what the kernel let through.
// The router joins 224.0.0.22 on the bridge (an address with autojoin) so the reports reach
// INPUT as they do on a router running the daemon; nothing reads them.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_SHARE_VALUES, LAYOUT, readPackageInfo, renderScripts } from '../../build/render.ts';
import { runFlood, type FloodPlan } from '../../scripts/lab/igmp-flood.ts';
import { NetnsLab, waitUntil, type Netns } from '../../scripts/lab/netns.ts';
import { realDaemonShellCommand } from '../helpers/real-daemon.ts';
import { HOST_TABLE, hostShareRule, hostShareTable } from './host-share.ts';
import { applianceSupport } from './support.ts';

const support = applianceSupport();

const DOWNSTREAM = 'hlbr0';
const FLOODER = { ifname: 'hla0', address: '10.77.0.2' };
const NEIGHBOUR = { ifname: 'hlb0', address: '10.77.0.3' };
const BURST = Number(HOST_SHARE_VALUES.hostShareBurst);
const RATE_PER_S = Number(HOST_SHARE_VALUES.hostShareRate);
const FLOOD_REPORTS = 3_000;
const FLOOD_RATE_PER_S = 20_000;
const NEIGHBOUR_REPORTS = 50;
const FLOOD_TIMEOUT_MS = 30_000;
const PATH_READY_TIMEOUT_MS = 10_000;
const TABLE_MAX = HOST_TABLE.max;
/** The first forged source: 10.77.16.0 onwards, inside the hosts' /16, outside their addresses. */
const FORGED_BASE = (10 << 24) | (77 << 16) | (16 << 8);
const FORGED_LATE = '10.77.250.1';

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

interface Counters {
  readonly dropped: number;
  readonly accepted: number;
}

describe.skipIf(!support.available)(`per-host IGMP share in the kernel ${support.reason}`, () => {
  const lab = new NetnsLab('hl');
  let router: Netns;
  let flooder: Netns;
  let neighbour: Netns;
  let work = '';
  let helper = '';
  let pathEnv = '';

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'hl-share-'));
    const config = path.join(work, 'igmpproxy.conf');
    await writeFile(config, `phyint hlup0 upstream\nphyint ${DOWNSTREAM} downstream\n`);
    const daemon = path.join(work, 'igmpproxy');
    await writeFile(daemon, `#!/bin/bash\nexec ${realDaemonShellCommand()} "$@"\n`);
    await chmod(daemon, 0o755);
    const rendered = await renderScripts(await readPackageInfo(), { ...LAYOUT, daemon, config });
    const script = rendered.payload.find((file) => file.path === 'usr/lib/igmpproxy/firewall');
    if (!script) throw new Error('no firewall helper rendered');
    helper = path.join(work, 'firewall');
    await writeFile(helper, script.content, { mode: 0o755 });
    // IPFire's legacy iptables, as test/package/firewall.test.ts uses it.
    await mkdir(path.join(work, 'bin'));
    await symlink('/usr/sbin/xtables-legacy-multi', path.join(work, 'bin/iptables'));
    await symlink('/usr/sbin/xtables-legacy-multi', path.join(work, 'bin/iptables-restore'));
    pathEnv = `PATH=${path.join(work, 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`;

    router = await lab.createNamespace('rtr');
    flooder = await lab.createNamespace('flood');
    neighbour = await lab.createNamespace('tv');
    for (const [host, peer, port] of [
      [flooder, FLOODER, 'hlra'],
      [neighbour, NEIGHBOUR, 'hlrb'],
    ] as const) {
      await lab.connect(host, peer.ifname, router, port);
      await host.addAddress(peer.ifname, `${peer.address}/16`);
      await host.up(peer.ifname);
    }
    await router.bridge(DOWNSTREAM, ['hlra', 'hlrb']);
    await router.addAddress(DOWNSTREAM, '10.77.0.1/16');
    await router.ip('address', 'add', '224.0.0.22/32', 'dev', DOWNSTREAM, 'autojoin');
    // The router's own report of that group would loop back into the counters.
    await router.sysctl('net.ipv4.igmp_link_local_mcast_reports', 0);
    for (const args of [
      ['-N', 'IPTVINPUT'],
      ['-A', 'INPUT', '-j', 'IPTVINPUT'],
      ['-N', 'IPTVFORWARD'],
      ['-A', 'FORWARD', '-j', 'IPTVFORWARD'],
      ['-N', 'CUSTOMOUTPUT'],
      ['-A', 'OUTPUT', '-j', 'CUSTOMOUTPUT'],
    ]) {
      await router.run(['iptables-legacy', ...args]);
    }
    const start = await router.exec(['env', '-i', pathEnv, helper, 'start']);
    expect(start.code, start.stderr).toBe(0);
    await waitUntil(pathReady, PATH_READY_TIMEOUT_MS, 'the bridge ports to forward');
  });

  afterAll(async () => {
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Packets counted by the downstream's share DROP rule and its ACCEPT rule. */
  async function counters(): Promise<Counters> {
    const listing = await router.run(['iptables-legacy', '-L', 'IGMPPROXY_IN', '-v', '-x', '-n']);
    const count = (target: string) => {
      const rows = listing
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((words) => words[2] === target && words.includes(DOWNSTREAM));
      if (rows.length !== 1) throw new Error(`expected one ${target} rule for ${DOWNSTREAM}:\n${listing}`);
      return Number(rows[0]![0]);
    };
    return { dropped: count('DROP'), accepted: count('ACCEPT') };
  }

  it('the rule is in place, before the accept', async () => {
    const rules = (await router.run(['iptables-legacy', '-S', 'IGMPPROXY_IN'])).split('\n');
    const share = rules.indexOf(hostShareRule(DOWNSTREAM));
    expect(share).toBeGreaterThan(0);
    expect(rules[share + 1]).toBe(`-A IGMPPROXY_IN -i ${DOWNSTREAM} -p igmp -j ACCEPT`);
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
      ports.filter((port) => port.state === 'forwarding').length === 2
    );
  }

  /** The counters once they account for `total` more packets than `from` (a sender's last
   * packets may still be queued in the kernel when it exits), or as they are after the wait. */
  async function countersAfter(from: Counters, total: number): Promise<Counters> {
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

    // One entry per source address, in the downstream's own table (the router's own report
    // of 224.0.0.22, looped back, has one too).
    const table = await router.run(['cat', `/proc/net/ipt_hashlimit/${hostShareTable(DOWNSTREAM)}`]);
    expect(table).toContain(` ${FLOODER.address}:0->`);
    expect(table).toContain(` ${NEIGHBOUR.address}:0->`);
  });

  it('a host forging more addresses than the table holds: new ones dropped, known hosts keep their share', async () => {
    const tableEntries = async () =>
      (await router.run(['cat', `/proc/net/ipt_hashlimit/${hostShareTable(DOWNSTREAM)}`])).trim().split('\n').length;
    const known = await tableEntries();
    const forged = TABLE_MAX - known + 100;
    const sent = await flooder.run(['python3', '-c', FORGER, FLOODER.ifname, String(FORGED_BASE), String(forged)]);
    expect(Number(sent)).toBe(forged);
    // The table stops at its bound (entries expire only 5 minutes after their host's last report).
    await waitUntil(async () => (await tableEntries()) >= TABLE_MAX, SETTLE_TIMEOUT_MS, 'a full table').catch(
      () => undefined,
    );
    expect(await tableEntries()).toBe(TABLE_MAX);

    // A report from yet another address reaches INPUT (a counting rule of this test's, first
    // in IPTVINPUT) and is dropped by the share rule though no counter of ours moves: xt_hashlimit
    // drops what it cannot track.
    await router.run(['iptables-legacy', '-I', 'IPTVINPUT', '-s', FORGED_LATE, '-p', 'igmp']);
    const before = await counters();
    const late = (10 << 24) | (77 << 16) | (250 << 8) | 1;
    expect(await flooder.run(['python3', '-c', FORGER, FLOODER.ifname, String(late), '1'])).toBe('1\n');
    const lateAtInput = async () => {
      const line = (await router.run(['iptables-legacy', '-L', 'IPTVINPUT', '-v', '-x', '-n']))
        .split('\n')
        .find((row) => row.includes(FORGED_LATE));
      return Number(line?.trim().split(/\s+/)[0]);
    };
    await waitUntil(async () => (await lateAtInput()) >= 1, SETTLE_TIMEOUT_MS, 'the late report at INPUT').catch(
      () => undefined,
    );
    expect(await lateAtInput()).toBe(1);
    expect(await counters()).toEqual(before);

    // The TV already in the table keeps its share.
    const tv = await runFlood(neighbour, reports(NEIGHBOUR.ifname, 10, 1_000), FLOOD_TIMEOUT_MS);
    const afterTv = await countersAfter(before, tv.sent);
    expect(afterTv.accepted - before.accepted).toBe(tv.sent);
    expect(afterTv.dropped).toBe(before.dropped);
  });

  it('stop removes the rules and the table with them', async () => {
    const stop = await router.exec(['env', '-i', pathEnv, helper, 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await router.run(['iptables-legacy', '-S'])).not.toContain('hashlimit');
    expect((await router.run(['ls', '/proc/net/ipt_hashlimit'])).trim()).toBe('');
  });
});
