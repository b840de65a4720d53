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
import { hostShareRule, hostShareTable } from './host-share.ts';
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
      await host.addAddress(peer.ifname, `${peer.address}/24`);
      await host.up(peer.ifname);
    }
    await router.bridge(DOWNSTREAM, ['hlra', 'hlrb']);
    await router.addAddress(DOWNSTREAM, '10.77.0.1/24');
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
    await waitUntil(pathReady, PATH_READY_TIMEOUT_MS, 'the bridge ports to forward');
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

  it('stop removes the rules and the table with them', async () => {
    const stop = await router.exec(['env', '-i', pathEnv, helper, 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await router.run(['iptables-legacy', '-S'])).not.toContain('hashlimit');
    expect((await router.run(['ls', '/proc/net/ipt_hashlimit'])).trim()).toBe('');
  });
});
