// The soak's pure parts (`npm run bench -- --soak MINUTES`, run by soak.ts): when to sample
// the daemon, when the next zap is due, latency percentiles, the three verdicts and the
// report (console and Markdown, the latter ready to paste into the README).
import { percentile } from './stats.ts';

export const SAMPLE_INTERVAL_MS = 5 * 60_000;
/** Runs at least this long take their memory reference after the first 5 minutes. */
const FULL_REFERENCE_MS = 2 * SAMPLE_INTERVAL_MS;
export const RSS_TOLERANCE = 0.1;
export const HELD_GAP_LIMIT_MS = 1_000;

/** Where the RssAnon verdict's reference sample is taken, and how the report names it. */
export interface MemoryReference {
  readonly atMs: number;
  readonly label: string;
}

/** The reference: after 5 minutes, or for runs shorter than 10 minutes at the first half's end. */
export function memoryReference(durationMs: number): MemoryReference {
  if (durationMs >= FULL_REFERENCE_MS) return { atMs: SAMPLE_INTERVAL_MS, label: 'after the first 5 minutes' };
  return {
    atMs: durationMs / 2,
    label: `at the end of the first half (${formatOffset(durationMs / 2)}; the run is shorter than 10 minutes)`,
  };
}

/** Sample offsets from the soak's start: 0, every 5 minutes, the reference, the end; sorted, once each. */
export function sampleOffsetsMs(durationMs: number): number[] {
  if (!(durationMs > 0)) throw new RangeError('a soak needs a positive duration');
  const offsets = new Set<number>([0, durationMs, memoryReference(durationMs).atMs]);
  for (let at = SAMPLE_INTERVAL_MS; at < durationMs; at += SAMPLE_INTERVAL_MS) offsets.add(at);
  return [...offsets].sort((a, b) => a - b);
}

/**
 * The next zap: the first tick of the schedule (startMs + k * periodMs, k >= 1) after nowMs.
 * A zap that took longer than a period skips the ticks it missed instead of zapping in a burst.
 */
export function nextTickMs(startMs: number, periodMs: number, nowMs: number): number {
  const ticks = Math.max(1, Math.floor((nowMs - startMs) / periodMs) + 1);
  return startMs + ticks * periodMs;
}

export interface LatencyPercentiles {
  readonly count: number;
  readonly p50?: number;
  readonly p90?: number;
  readonly p99?: number;
  readonly max?: number;
}

/** Nearest-rank percentiles (measured values, never interpolated); only a count when empty. */
export function latencyPercentiles(samples: readonly number[]): LatencyPercentiles {
  if (samples.length === 0) return { count: 0 };
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
  };
}

export type SoakVerdictValue = 'met' | 'not met' | 'n/a';

export interface SoakVerdict {
  readonly name: string;
  readonly verdict: SoakVerdictValue;
  readonly detail: string;
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

/** RssAnon at the end within 10% of the reference (either way: a drop that large is worth a look too). */
export function rssVerdict(
  reference: MemoryReference,
  referenceKb: number | undefined,
  endKb: number | undefined,
): SoakVerdict {
  const name = 'RssAnon at the end within 10%';
  if (referenceKb === undefined || endKb === undefined || referenceKb <= 0) {
    return { name, verdict: 'n/a', detail: 'not measured (the proxy was not running at the reference or at the end)' };
  }
  const change = (endKb - referenceKb) / referenceKb;
  const sign = change >= 0 ? '+' : '';
  return {
    name,
    verdict: Math.abs(change) <= RSS_TOLERANCE ? 'met' : 'not met',
    detail: `${mb(endKb)} at the end vs ${mb(referenceKb)} ${reference.label}: ${sign}${(change * 100).toFixed(1)}% (limit ±${RSS_TOLERANCE * 100}%)`,
  };
}

/** The held channel: no silence over 1 s from its first packet to the end. */
export function gapVerdict(longestMs: number | undefined, lost: number | undefined): SoakVerdict {
  const name = 'held channel: no gap over 1 s';
  if (longestMs === undefined) return { name, verdict: 'n/a', detail: 'the held channel never started' };
  return {
    name,
    verdict: longestMs <= HELD_GAP_LIMIT_MS ? 'met' : 'not met',
    detail: `longest gap ${longestMs.toFixed(0)} ms (limit ${HELD_GAP_LIMIT_MS} ms), ${lost ?? 'n/a'} packets lost`,
  };
}

export function zapVerdict(zaps: number, failed: number): SoakVerdict {
  const name = 'no zap failed';
  if (zaps === 0) return { name, verdict: 'n/a', detail: 'no zap was made' };
  return { name, verdict: failed === 0 ? 'met' : 'not met', detail: `${failed} of ${zaps} zaps failed` };
}

/** The daemon's figures at one sample. */
export interface SoakSample {
  /** Planned offset from the soak's start. */
  readonly atMs: number;
  /** Absent when the proxy was no longer running. */
  readonly rssAnonKb?: number;
  /** utime + stime since the proxy started. */
  readonly cpuSeconds?: number;
  /** Packets of the held channel so far, and those lost. */
  readonly heldPackets?: number;
  readonly heldLost?: number;
  readonly zaps: number;
  readonly zapsFailed: number;
  /** 1-minute load average of the machine the lab runs on. */
  readonly load1?: number;
}

export interface SoakResult {
  readonly id: string;
  readonly label: string;
  readonly command: readonly string[];
  available: boolean;
  reason?: string;
  readonly minutes: number;
  readonly heldChannel: string;
  readonly zapChannels: readonly (readonly string[])[];
  readonly samples: SoakSample[];
  held?: {
    packets: number;
    lost: number;
    outOfOrder: number;
    longestGapMs: number;
    longestGapEndedAtS?: number;
    /** Across the longest gap: how long the provider itself paused, and sequence numbers skipped (lost there). */
    senderPauseMs?: number;
    skipped?: number;
    /** Packets the provider sent of the held channel, since its stream started (just before the first packet). */
    sent?: number;
  };
  zaps: { count: number; failed: number; latencyMs: LatencyPercentiles; failures: string[] };
  verdicts: SoakVerdict[];
  readonly failures: string[];
  readonly notes: string[];
}

/** Every verdict of one run, from its samples and outcomes. */
export function soakVerdicts(result: Pick<SoakResult, 'minutes' | 'samples' | 'held' | 'zaps'>): SoakVerdict[] {
  const durationMs = result.minutes * 60_000;
  const reference = memoryReference(durationMs);
  const at = (offset: number): SoakSample | undefined => result.samples.find((sample) => sample.atMs === offset);
  return [
    rssVerdict(reference, at(reference.atMs)?.rssAnonKb, at(durationMs)?.rssAnonKb),
    gapVerdict(result.held?.longestGapMs, result.held?.lost),
    zapVerdict(result.zaps.count, result.zaps.failed),
  ];
}

/** "0:00", "5:00", "1:30:00": an offset for people. */
export function formatOffset(ms: number): string {
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** Where and why the held channel's longest gap happened, as far as the packets around it tell. */
function gapCause(held: NonNullable<SoakResult['held']>): string {
  const parts: string[] = [];
  if (held.longestGapEndedAtS !== undefined)
    parts.push(`ended ${formatOffset(held.longestGapEndedAtS * 1000)} into the soak`);
  if (held.senderPauseMs !== undefined && held.skipped !== undefined) {
    parts.push(`the provider's own pause there ${held.senderPauseMs.toFixed(0)} ms, ${held.skipped} packets skipped`);
  }
  return parts.length === 0 ? '' : ` (${parts.join('; ')})`;
}

const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${value.toFixed(1)} ms`);

/** The report of one run: the table over time, the held channel, the zaps, the verdicts. */
export function renderSoak(result: SoakResult, markdown: boolean): string {
  if (!result.available) return `${result.label}: not available (${result.reason ?? 'unknown'})`;
  const header = [
    'time',
    'RssAnon MB',
    'CPU s (total)',
    'CPU % since previous',
    'held packets',
    'held lost',
    'zaps',
    'zaps failed',
    'load 1 min',
  ];
  const body = result.samples.map((sample, index) => {
    const previous = index > 0 ? result.samples[index - 1] : undefined;
    const share =
      previous?.cpuSeconds !== undefined && sample.cpuSeconds !== undefined && sample.atMs > previous.atMs
        ? `${(((sample.cpuSeconds - previous.cpuSeconds) * 1000 * 100) / (sample.atMs - previous.atMs)).toFixed(2)}`
        : '';
    return [
      formatOffset(sample.atMs),
      sample.rssAnonKb === undefined ? 'n/a' : (sample.rssAnonKb / 1024).toFixed(1),
      sample.cpuSeconds === undefined ? 'n/a' : sample.cpuSeconds.toFixed(2),
      share,
      String(sample.heldPackets ?? 'n/a'),
      String(sample.heldLost ?? 'n/a'),
      String(sample.zaps),
      String(sample.zapsFailed),
      sample.load1 === undefined ? '' : sample.load1.toFixed(2),
    ];
  });
  const latency = result.zaps.latencyMs;
  const held = result.held;
  const table = [header, ...body];
  const widths = header.map((_, column) => Math.max(...table.map((row) => (row[column] as string).length)));
  const lines = markdown
    ? [
        `| ${header.join(' | ')} |`,
        `|${header.map(() => '---:').join('|')}|`,
        ...body.map((cells) => `| ${cells.join(' | ')} |`),
      ]
    : table.map((row) =>
        row
          .map((cell, column) =>
            column === 0 ? cell.padEnd(widths[0] as number) : cell.padStart(widths[column] as number),
          )
          .join('  '),
      );
  lines.push(
    '',
    `Held channel ${result.heldChannel}: ${
      held
        ? `${held.packets} packets, ${held.lost} lost, ${held.outOfOrder} out of order, ` +
          `longest gap ${held.longestGapMs.toFixed(0)} ms${gapCause(held)}${held.sent === undefined ? '' : `; the provider sent ${held.sent}`}`
        : 'never started'
    }.`,
    `Zaps (leave A + join B -> first packet of B): ${result.zaps.count} made, ${result.zaps.failed} failed; ` +
      `p50 ${ms(latency.p50)}, p90 ${ms(latency.p90)}, p99 ${ms(latency.p99)}, max ${ms(latency.max)}.`,
    ...result.zaps.failures.slice(0, 10).map((failure) => `${markdown ? '- ' : '  '}failed zap: ${failure}`),
    '',
    'Verdicts:',
    ...(markdown ? [''] : []),
    ...result.verdicts.map(
      (verdict) => `${markdown ? '- ' : '  '}${verdict.name}: ${verdict.verdict.toUpperCase()} (${verdict.detail})`,
    ),
  );
  return lines.join('\n');
}

/** Seconds a soak of `minutes` may take per proxy: the soak, the lab's set-up and tear-down. */
export function soakBudgetSeconds(minutes: number, proxies: number): number {
  return proxies * (minutes * 60 + 300);
}
