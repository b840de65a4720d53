// The soak (`npm run bench -- --soak MINUTES`): one proxy in a fresh IPTV lab with three
// TVs for MINUTES. tv0 holds one channel the whole time; tv1 and tv2 zap once a second,
// each through its own ring of channels, half a second apart. The provider is an RFC
// querier (general query every 125 s), so the proxy must keep answering for the held
// channel to keep flowing. Sampled at start, every 5 minutes and at the end (soak-plan.ts):
// the proxy's RssAnon and CPU (utime+stime from /proc/PID/stat), the held channel's
// packets and losses; at the end its longest gap, and every zap's latency.
// Latencies and gaps are read on the lab clock inside the TV programs.
import os from 'node:os';
import { monotonicMs } from '../lab/clock.ts';
import { IptvLab } from '../lab/iptv-lab.ts';
import type { ProxyHandle, TvHandle } from '../lab/iptv-lab.ts';
import { startCandidate, type ProxyCandidate } from './candidates.ts';
import { benchGroup } from './scenarios.ts';
import {
  formatOffset,
  latencyPercentiles,
  nextTickMs,
  sampleOffsetsMs,
  soakVerdicts,
  type SoakResult,
  type SoakSample,
} from './soak-plan.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

/** The soak lab's namespace and interface prefix (its own, so it never meets a bench lab). */
export const SOAK_PREFIX = 'sksoak';
const SETTLE_MS = 5_000;
const FIRST_PACKET_LIMIT_MS = 10_000;
const ZAP_PERIOD_MS = 1_000;
/** A zap whose first packet has not come within this (lab clock) failed. */
export const ZAP_FAIL_MS = 5_000;
const RING_SIZE = 8;
const HELD_CHANNEL = benchGroup(70, 0);
const ZAP_RINGS = [71, 72].map((block) => Array.from({ length: RING_SIZE }, (_, index) => benchGroup(block, index)));
/** Failed zaps described in the result (all are counted). */
const FAILURES_KEPT = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const firstLine = (error: unknown): string => errorMessage(error).split('\n')[0] as string;

interface ZapTally {
  readonly latencies: number[];
  failed: number;
  readonly failures: string[];
}

export async function runSoak(
  candidate: ProxyCandidate,
  minutes: number,
  ispVersion: 2 | 3,
  log: (line: string) => void,
): Promise<SoakResult> {
  const result: SoakResult = {
    id: candidate.id,
    label: candidate.label,
    command: candidate.command,
    available: candidate.available,
    minutes,
    heldChannel: HELD_CHANNEL,
    zapChannels: ZAP_RINGS,
    samples: [],
    zaps: { count: 0, failed: 0, latencyMs: { count: 0 }, failures: [] },
    verdicts: [],
    failures: [],
    notes: [],
  };
  if (!candidate.available) {
    result.reason = candidate.reason ?? 'not available';
    return result;
  }
  const lab = await IptvLab.create({ prefix: SOAK_PREFIX, ispVersion, tvClients: 3, packetIntervalMs: 10 });
  try {
    const proxy = await startCandidate(lab, candidate, result);
    if (!proxy) return result;
    await sleep(SETTLE_MS);
    const [held, ...zappers] = [lab.tv(0), lab.tv(1), lab.tv(2)] as [TvHandle, TvHandle, TvHandle];
    try {
      const firstChannels: [TvHandle, string][] = [
        [held, HELD_CHANNEL],
        ...zappers.map((tv, index): [TvHandle, string] => [tv, ZAP_RINGS[index]?.[0] as string]),
      ];
      for (const [tv, channel] of firstChannels) {
        const from = tv.mark;
        await tv.join(channel);
        await tv.waitFirstPacket(channel, FIRST_PACKET_LIMIT_MS, from);
      }
    } catch (error) {
      result.available = false;
      result.reason = `not functional: the first channels did not arrive: ${firstLine(error)}; proxy log tail: ${proxy.tail(5).replace(/\n/g, ' | ')}`;
      return result;
    }

    const durationMs = minutes * 60_000;
    const startMs = monotonicMs();
    const endMs = startMs + durationMs;
    log(`  ${candidate.id}: soak of ${minutes} min: ${HELD_CHANNEL} held on tv0, tv1 and tv2 zapping once a second`);
    const tallies: ZapTally[] = zappers.map(() => ({ latencies: [], failed: 0, failures: [] }));
    const zapping = zappers.map((tv, index) =>
      zapLoop(
        tv,
        `tv${index + 1}`,
        ZAP_RINGS[index] as string[],
        startMs + (index * ZAP_PERIOD_MS) / 2,
        startMs,
        endMs,
        tallies[index] as ZapTally,
      ),
    );

    let exitNoted = false;
    for (const offset of sampleOffsetsMs(durationMs)) {
      await sleep(startMs + offset - monotonicMs());
      if (!proxy.running && !exitNoted) {
        exitNoted = true;
        result.failures.push(
          `the proxy exited before ${formatOffset(offset)} (${proxy.exitCode ?? proxy.exitSignal}); log tail: ` +
            proxy.tail(5).replace(/\n/g, ' | '),
        );
      }
      const sample = await takeSample(offset, proxy, held, tallies);
      result.samples.push(sample);
      log(
        `  ${candidate.id}: ${formatOffset(offset)} RssAnon ${sample.rssAnonKb ?? 'n/a'} kB, CPU ${sample.cpuSeconds?.toFixed(2) ?? 'n/a'} s, ` +
          `held ${sample.heldPackets ?? 'n/a'} packets (${sample.heldLost ?? 'n/a'} lost), zaps ${sample.zaps} (${sample.zapsFailed} failed)`,
      );
    }
    await Promise.all(zapping);

    // Read before anyone leaves: what the provider streams now, and what it sent of the held channel.
    const upstream = await lab.isp.status().catch(() => undefined);
    const now = monotonicMs();
    const heldStats = (await held.stats().catch(() => undefined))?.groups[HELD_CHANNEL];
    if (heldStats?.firstAt !== undefined) {
      // A silence still going on at the end counts too: a stream that stopped for good is the worst gap.
      const ongoing = heldStats.lastAt === undefined ? 0 : now - heldStats.lastAt;
      const fromTracker = heldStats.longestSilenceMs >= ongoing;
      const endedAt = fromTracker ? heldStats.longestSilenceEndedAt : now;
      result.held = {
        packets: heldStats.packets,
        lost: heldStats.lost,
        outOfOrder: heldStats.outOfOrder,
        longestGapMs: Math.max(heldStats.longestSilenceMs, ongoing),
        ...(endedAt === undefined ? {} : { longestGapEndedAtS: Math.max(0, (endedAt - startMs) / 1000) }),
        ...(fromTracker &&
        heldStats.longestSilenceSendGapMs !== undefined &&
        heldStats.longestSilenceSkipped !== undefined
          ? { senderPauseMs: heldStats.longestSilenceSendGapMs, skipped: heldStats.longestSilenceSkipped }
          : {}),
        ...(upstream?.sent[HELD_CHANNEL] === undefined ? {} : { sent: upstream.sent[HELD_CHANNEL] }),
      };
    }
    if (upstream) {
      result.notes.push(
        `groups the provider streamed at the end: ${upstream.groups.length} (the held one and the zapping TVs' current ones: 3)`,
      );
    }
    const latencies = tallies.flatMap((tally) => tally.latencies);
    const failed = tallies.reduce((sum, tally) => sum + tally.failed, 0);
    result.zaps = {
      count: latencies.length + failed,
      failed,
      latencyMs: latencyPercentiles(latencies),
      failures: tallies.flatMap((tally) => tally.failures).slice(0, FAILURES_KEPT),
    };
    result.verdicts = soakVerdicts(result);

    const stopped = await proxy.stop();
    result.notes.push(
      `SIGTERM at the end: ${stopped.killed ? 'did not exit, killed' : `exit code ${stopped.code ?? stopped.signal}`}`,
    );
    return result;
  } finally {
    await lab.dispose();
  }
}

async function takeSample(
  offset: number,
  proxy: ProxyHandle,
  held: TvHandle,
  tallies: readonly ZapTally[],
): Promise<SoakSample> {
  let rssAnonKb: number | undefined;
  let cpuSeconds: number | undefined;
  if (proxy.running) {
    try {
      rssAnonKb = proxy.rssAnonKb();
      cpuSeconds = proxy.cpuSeconds();
    } catch {
      // It exited between the check and the read: n/a, and the exit is reported.
    }
  }
  const stats = (await held.stats().catch(() => undefined))?.groups[HELD_CHANNEL];
  const failed = tallies.reduce((sum, tally) => sum + tally.failed, 0);
  return {
    atMs: offset,
    rssAnonKb,
    cpuSeconds,
    heldPackets: stats?.packets,
    heldLost: stats?.lost,
    zaps: tallies.reduce((sum, tally) => sum + tally.latencies.length, 0) + failed,
    zapsFailed: failed,
    load1: os.loadavg()[0],
  };
}

/** One TV zapping through `ring` once a second (ticks from phaseMs on) until endMs. */
async function zapLoop(
  tv: TvHandle,
  name: string,
  ring: readonly string[],
  phaseMs: number,
  soakStartMs: number,
  endMs: number,
  tally: ZapTally,
): Promise<void> {
  let index = 0;
  let current = ring[0] as string;
  const fail = (at: number, text: string): void => {
    tally.failed++;
    if (tally.failures.length < FAILURES_KEPT)
      tally.failures.push(`${formatOffset(at - soakStartMs)} ${name}: ${text}`);
  };
  for (;;) {
    const tick = nextTickMs(phaseMs, ZAP_PERIOD_MS, monotonicMs());
    if (tick >= endMs) break;
    await sleep(tick - monotonicMs());
    const next = ring[++index % ring.length] as string;
    const from = tv.mark;
    let leftAt: number;
    try {
      leftAt = await tv.zap(current, next);
    } catch (error) {
      // The TV's state is unknown after this: count it and stop this TV rather than guess.
      fail(monotonicMs(), `${current} -> ${next}: the zap itself failed: ${firstLine(error)}`);
      return;
    }
    current = next;
    try {
      const first = await tv.waitFirstPacket(next, ZAP_FAIL_MS, from);
      const latency = first.t - leftAt;
      if (latency <= ZAP_FAIL_MS) tally.latencies.push(latency);
      else fail(leftAt, `${next}: first packet only after ${latency.toFixed(0)} ms`);
    } catch {
      fail(leftAt, `${next}: no first packet within ${ZAP_FAIL_MS} ms`);
    }
  }
}
