// The flood section (`npm run bench -- --only flood`, issue 14 part 3): one proxy in a fresh
// IPTV lab with two TVs. tv0 is the other TV: it joins --joins fresh channels (join -> first
// packet) and zaps --zaps times (leave A + join B -> first packet of B), first unloaded,
// then while tv1, a hostile LAN host, floods the proxy with valid IGMPv3 reports for 60 s
// (scripts/lab/igmp-flood.ts: the hostile-LAN test's mix and per-environment rate). Meanwhile
// the proxy's RssAnon is sampled every 250 ms and its CPU seconds over the flood are taken.
// The provider streams each joined group once a second, its first packet at once on the
// join: the hostile host's groups must not drown the emulated VM in forwarding work.
// Ours runs behind the add-on's firewall rules (scripts/lab/addon-firewall.ts), as shipped:
// the kernel drops each host's IGMP beyond its share before the daemon's socket queue. The C
// igmpproxy runs without them, as IPFire ships it.
import { AddonFirewall, type ShareCounters } from '../lab/addon-firewall.ts';
import { monotonicMs } from '../lab/clock.ts';
import {
  floodGenerator,
  HOSTILE_FLOOD_MS,
  HOSTILE_FLOOD_TARGET_RATE,
  hostileFloodPlan,
  runFlood,
} from '../lab/igmp-flood.ts';
import { IptvLab } from '../lab/iptv-lab.ts';
import type { TvHandle } from '../lab/iptv-lab.ts';
import { cpuSplit, mainThreadCpuSeconds, mainThreadWakeUps, parseRawIgmpDrops } from '../lab/proc-stats.ts';
import { startCandidate, type ProxyCandidate } from './candidates.ts';
import { floodVerdicts, latencySet, type FloodBenchResult, type ViewerPass } from './flood-plan.ts';
import type { BenchOptions } from './options.ts';
import { benchGroup, endIteration } from './scenarios.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

/** The flood lab's namespace and interface prefix (its own, so it never meets another bench lab). */
export const FLOOD_PREFIX = 'fbflood';
const SETTLE_MS = 5_000;
const FIRST_PACKET_LIMIT_MS = 5_000;
/** After the flood starts, before the first measurement: the hostile host's joins are in. */
const WARM_UP_MS = 3_000;
const MEMORY_SAMPLE_MS = 250;
const VIEWER = 0;
const HOSTILE = 1;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const firstLine = (error: unknown): string => errorMessage(error).split('\n')[0] as string;

/** Joins then zaps of the other TV on fresh channels of two blocks; stops early (the rest not measured) when `stop` says so. */
async function viewerPass(
  tv: TvHandle,
  blocks: { join: number; zap: number },
  options: Pick<BenchOptions, 'joins' | 'zaps'>,
  stop: () => boolean,
): Promise<ViewerPass & { skipped: number }> {
  const joins: number[] = [];
  let joinMissed = 0;
  let skipped = 0;
  for (let index = 0; index < options.joins; index++) {
    if (stop()) {
      skipped += options.joins - index;
      break;
    }
    const startedAt = Date.now();
    const group = benchGroup(blocks.join, index);
    const from = tv.mark;
    await tv.join(group);
    try {
      joins.push((await tv.waitFirstPacket(group, FIRST_PACKET_LIMIT_MS, from)).latencyMs);
    } catch {
      joinMissed++;
    }
    await tv.leave(group);
    await endIteration(startedAt, 50);
  }
  const zaps: number[] = [];
  let zapMissed = 0;
  let current = benchGroup(blocks.zap, 0);
  const from = tv.mark;
  await tv.join(current);
  // The first channel of the zap ring only has to be there; under a flood it may not come.
  await tv.waitFirstPacket(current, FIRST_PACKET_LIMIT_MS, from).catch(() => undefined);
  for (let index = 1; index <= options.zaps; index++) {
    if (stop()) {
      skipped += options.zaps - index + 1;
      break;
    }
    const startedAt = Date.now();
    const next = benchGroup(blocks.zap, index);
    const tvFrom = tv.mark;
    const leftAt = await tv.zap(current, next);
    current = next;
    try {
      zaps.push((await tv.waitFirstPacket(next, FIRST_PACKET_LIMIT_MS, tvFrom)).t - leftAt);
    } catch {
      zapMissed++;
    }
    await endIteration(startedAt, 100);
  }
  await tv.leave(current);
  return { join: latencySet(joins, joinMissed), zap: latencySet(zaps, zapMissed), skipped };
}

export async function runFloodBench(
  candidate: ProxyCandidate,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<FloodBenchResult> {
  const result: FloodBenchResult = {
    id: candidate.id,
    label: candidate.label,
    command: candidate.command,
    available: candidate.available,
    targetRate: HOSTILE_FLOOD_TARGET_RATE,
    verdicts: [],
    failures: [],
    notes: [],
  };
  if (!candidate.available) {
    result.reason = candidate.reason ?? 'not available';
    return result;
  }
  const generator = floodGenerator();
  let firewall: AddonFirewall | undefined;
  const lab = await IptvLab.create({
    prefix: FLOOD_PREFIX,
    ispVersion: options.ispVersion,
    tvClients: 2,
    queryIntervalMs: 0,
    packetIntervalMs: 1_000,
  });
  try {
    const proxy = await startCandidate(lab, candidate, result);
    if (!proxy) return result;
    if (candidate.id === 'ours') {
      const flags = candidate.command.indexOf('-d');
      firewall = await AddonFirewall.apply(
        lab.proxyNamespace,
        flags < 0 ? candidate.command : candidate.command.slice(0, flags),
        proxy.configPath,
      );
    }
    const shareCounters = async (): Promise<ShareCounters | undefined> =>
      firewall?.shareCounters(lab.interfaces.bridge);
    await generator;
    await sleep(SETTLE_MS);
    const tv = lab.tv(VIEWER);
    log(`  ${candidate.id}: the other TV, unloaded`);
    const unloaded = await viewerPass(tv, { join: 50, zap: 51 }, options, () => false);
    result.unloaded = unloaded;
    if (unloaded.join.latencyMs.count === 0) {
      result.available = false;
      result.reason = `not functional: no unloaded join got its first packet; proxy log tail: ${proxy.tail(5).replace(/\n/g, ' | ')}`;
      return result;
    }

    log(`  ${candidate.id}: the other TV while the hostile host floods for ${HOSTILE_FLOOD_MS / 1000} s`);
    const logFrom = proxy.log.length;
    const rssAnonKbBefore = proxy.rssAnonKb();
    const socketDrops = async (): Promise<number> =>
      parseRawIgmpDrops(await lab.proxyNamespace.run(['cat', '/proc/net/raw']));
    const dropsBefore = await socketDrops();
    const shareBefore = await shareCounters();
    const cpuBefore = cpuSplit(proxy.pid);
    const wakeUpsBefore = mainThreadWakeUps(proxy.pid);
    const mainCpuBefore = mainThreadCpuSeconds(proxy.pid);
    const floodStart = monotonicMs();
    const flood = runFlood(
      lab.tvNamespaces[HOSTILE]!,
      hostileFloodPlan(lab.interfaces.tv(HOSTILE)),
      HOSTILE_FLOOD_MS + 60_000,
    );
    // Awaited below; this only keeps a failure while the TV measures from going unhandled.
    flood.catch(() => undefined);
    const memory: number[] = [];
    const sampler = setInterval(() => {
      try {
        const kb = proxy.rssAnonKb();
        if (kb !== undefined) memory.push(kb);
      } catch {
        // It exited: the exit is reported below.
      }
    }, MEMORY_SAMPLE_MS);
    let cpu: { user: number; system: number } | undefined;
    let wakeUps: number | undefined;
    let mainCpu: number | undefined;
    let floodEnd = floodStart;
    try {
      await sleep(WARM_UP_MS);
      // Only what the flood's time covers counts: a measurement must be able to end before it does.
      const floodEndsAt = floodStart + HOSTILE_FLOOD_MS;
      const loaded = await viewerPass(
        tv,
        { join: 52, zap: 53 },
        options,
        () => monotonicMs() + FIRST_PACKET_LIMIT_MS + 1_000 > floodEndsAt || !proxy.running,
      );
      result.loaded = loaded;
      if (loaded.skipped > 0)
        result.notes.push(`under the flood: ${loaded.skipped} joins/zaps not measured (the flood's 60 s were over)`);
      result.flood = await flood;
    } catch (error) {
      result.failures.push(`the flood: ${firstLine(error)}`);
    } finally {
      floodEnd = monotonicMs();
      if (proxy.running) {
        const after = cpuSplit(proxy.pid);
        cpu = { user: after.user - cpuBefore.user, system: after.system - cpuBefore.system };
        mainCpu = mainThreadCpuSeconds(proxy.pid) - mainCpuBefore;
        const wakeUpsAfter = mainThreadWakeUps(proxy.pid);
        if (wakeUpsBefore !== undefined && wakeUpsAfter !== undefined) wakeUps = wakeUpsAfter - wakeUpsBefore;
      }
      clearInterval(sampler);
    }
    const drops = await socketDrops().catch(() => undefined);
    const shareAfter = await shareCounters().catch(() => undefined);
    if (shareBefore !== undefined && shareAfter !== undefined) {
      result.notes.push(
        `the add-on's firewall rules in place: over the flood the kernel dropped ${(shareAfter.dropped - shareBefore.dropped).toLocaleString('en-US')} ` +
          `IGMP datagrams beyond a host's share and let ${(shareAfter.accepted - shareBefore.accepted).toLocaleString('en-US')} in (both TVs)`,
      );
    }
    result.daemon = {
      rssAnonKbBefore,
      ...(memory.length > 0 ? { rssAnonKbPeak: Math.max(...memory) } : {}),
      samples: memory.length,
      wallSeconds: (floodEnd - floodStart) / 1000,
      ...(cpu === undefined ? {} : { userSeconds: cpu.user, systemSeconds: cpu.system }),
      ...(wakeUps === undefined ? {} : { mainThreadWakeUps: wakeUps }),
      ...(mainCpu === undefined ? {} : { mainThreadCpuSeconds: mainCpu }),
      ...(drops === undefined ? {} : { socketQueueDrops: drops - dropsBefore }),
    };
    result.verdicts = floodVerdicts(result);
    if (!proxy.running) {
      result.failures.push(
        `the proxy exited under the flood (${proxy.exitCode ?? proxy.exitSignal}); log tail: ${proxy.tail(5).replace(/\n/g, ' | ')}`,
      );
      return result;
    }
    const lines = proxy.log.slice(logFrom).filter((line) => line.trim() !== '');
    if (lines.length > 0)
      result.notes.push(`proxy log lines during the flood: ${lines.length}, e.g. "${lines[0]?.slice(0, 160)}"`);
    const stopped = await proxy.stop();
    result.notes.push(
      `SIGTERM at the end: ${stopped.killed ? 'did not exit, killed' : `exit code ${stopped.code ?? stopped.signal}`}`,
    );
    return result;
  } finally {
    await lab.dispose();
    await firewall?.dispose();
  }
}
