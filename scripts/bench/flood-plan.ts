// The flood section's pure parts (`npm run bench -- --only flood`, run by flood.ts): what one
// proxy's run holds, the "within 2x of unloaded" verdicts (issue 14 part 3) and the report,
// on the console and in Markdown ready for the README.
import type { FloodResult } from '../lab/igmp-flood.ts';
import { latencyPercentiles, type LatencyPercentiles, type SoakVerdict } from './soak-plan.ts';

/** Under the flood, the other TV's p50 may be at most this many times its unloaded p50. */
export const LOADED_RATIO_LIMIT = 2;

/** Latencies of one kind of channel change, and how many got no first packet in time. */
export interface LatencySet {
  readonly latencyMs: LatencyPercentiles;
  readonly missed: number;
}

export function latencySet(samples: readonly number[], missed: number): LatencySet {
  return { latencyMs: latencyPercentiles(samples), missed };
}

/** One pass of the other TV: joins (join -> first packet) and zaps (leave A + join B -> first packet of B). */
export interface ViewerPass {
  readonly join: LatencySet;
  readonly zap: LatencySet;
}

export interface FloodBenchResult {
  readonly id: string;
  readonly label: string;
  readonly command: readonly string[];
  available: boolean;
  reason?: string;
  /** Reports a second the generator aimed at. */
  readonly targetRate: number;
  unloaded?: ViewerPass;
  loaded?: ViewerPass;
  /** What the generator really sent. */
  flood?: FloodResult;
  /** The proxy during the flood: RssAnon before it and its peak (sampled every 250 ms), CPU over it. */
  daemon?: FloodCost;
  verdicts: SoakVerdict[];
  readonly failures: string[];
  readonly notes: string[];
}

/** What the flood cost the proxy, from its start until the generator's result was in. */
export interface FloodCost {
  readonly rssAnonKbBefore?: number;
  readonly rssAnonKbPeak?: number;
  readonly samples: number;
  /** Lab-clock seconds the figures cover: the flood's own time plus its start and end as the bench saw them. */
  readonly wallSeconds: number;
  /** utime and stime over that time; absent when the proxy had exited. */
  readonly userSeconds?: number;
  readonly systemSeconds?: number;
  /** utime + stime of the main thread alone (the event loop; the rest is V8's and libuv's helper threads). */
  readonly mainThreadCpuSeconds?: number;
  /** Voluntary context switches of its main thread: how often its event loop waited and woke. */
  readonly mainThreadWakeUps?: number;
  /** Datagrams the kernel dropped for the proxy's full raw IGMP socket queue (/proc/net/raw), any host's. */
  readonly socketQueueDrops?: number;
}

/** loaded / unloaded of one percentile, or undefined when either is missing. */
export function percentileRatio(
  unloaded: LatencySet | undefined,
  loaded: LatencySet | undefined,
  key: 'p50' | 'p90',
): number | undefined {
  const base = unloaded?.latencyMs[key];
  const under = loaded?.latencyMs[key];
  return base === undefined || under === undefined || base <= 0 ? undefined : under / base;
}

/** loaded p50 / unloaded p50, or undefined when either is missing. */
export function p50Ratio(unloaded: LatencySet | undefined, loaded: LatencySet | undefined): number | undefined {
  return percentileRatio(unloaded, loaded, 'p50');
}

/** Met when every change under the flood got its first packet and the p50 stayed within 2x of unloaded. */
export function ratioVerdict(
  kind: string,
  unloaded: LatencySet | undefined,
  loaded: LatencySet | undefined,
): SoakVerdict {
  const name = `${kind} under the flood within ${LOADED_RATIO_LIMIT}x of unloaded (p50)`;
  if (unloaded?.latencyMs.p50 === undefined) return { name, verdict: 'n/a', detail: 'no unloaded figure' };
  if (loaded === undefined || loaded.latencyMs.count + loaded.missed === 0)
    return { name, verdict: 'n/a', detail: 'nothing measured under the flood' };
  const ratio = p50Ratio(unloaded, loaded);
  const missed =
    loaded.missed > 0 ? `; ${loaded.missed} of ${loaded.latencyMs.count + loaded.missed} got no first packet` : '';
  const met = ratio !== undefined && ratio <= LOADED_RATIO_LIMIT && loaded.missed === 0;
  return {
    name,
    verdict: met ? 'met' : 'not met',
    detail: `${ms(loaded.latencyMs.p50)} vs ${ms(unloaded.latencyMs.p50)}: ${ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`}${missed}`,
  };
}

export function floodVerdicts(result: Pick<FloodBenchResult, 'unloaded' | 'loaded'>): SoakVerdict[] {
  return [
    ratioVerdict('join -> first packet', result.unloaded?.join, result.loaded?.join),
    ratioVerdict('zap -> first packet', result.unloaded?.zap, result.loaded?.zap),
  ];
}

const ms = (value: number | undefined): string => (value === undefined ? 'n/a' : `${value.toFixed(1)} ms`);
const mb = (kb: number | undefined): string => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

function cells(set: LatencySet | undefined): string[] {
  const l = set?.latencyMs;
  return [
    String(l?.count ?? 0) + (set !== undefined && set.missed > 0 ? ` (+${set.missed} missed)` : ''),
    ms(l?.p50),
    ms(l?.p90),
    ms(l?.max),
  ];
}

function wakeUps(daemon: FloodCost | undefined): string {
  if (daemon?.mainThreadWakeUps === undefined) return 'n/a times';
  const rate =
    daemon.wallSeconds > 0
      ? ` (${Math.round(daemon.mainThreadWakeUps / daemon.wallSeconds).toLocaleString('en')} a second)`
      : '';
  return `${daemon.mainThreadWakeUps.toLocaleString('en')} times${rate}`;
}

/** The report of one proxy: latencies both ways with the ratio, the proxy's cost, the generator, the verdicts. */
export function renderFlood(result: FloodBenchResult, markdown: boolean): string {
  if (!result.available) return `${result.label}: not available (${result.reason ?? 'unknown'})`;
  const header = ['other TV', 'flood', 'n', 'p50', 'p90', 'max', 'p50 ratio', 'p90 ratio'];
  const body: string[][] = [];
  for (const [kind, key] of [
    ['join -> first packet', 'join'],
    ['zap -> first packet', 'zap'],
  ] as const) {
    const unloaded = result.unloaded?.[key];
    const loaded = result.loaded?.[key];
    const ratio = (key: 'p50' | 'p90'): string => {
      const value = percentileRatio(unloaded, loaded, key);
      return value === undefined ? 'n/a' : `${value.toFixed(2)}x`;
    };
    body.push([kind, 'none', ...cells(unloaded), '', '']);
    body.push([kind, 'hostile host', ...cells(loaded), ratio('p50'), ratio('p90')]);
  }
  const table = [header, ...body];
  const widths = header.map((_, column) => Math.max(...table.map((row) => (row[column] as string).length)));
  const lines = markdown
    ? [
        `| ${header.join(' | ')} |`,
        `|---|---|${header
          .slice(2)
          .map(() => '---:')
          .join('|')}|`,
        ...body.map((row) => `| ${row.join(' | ')} |`),
      ]
    : table.map((row) =>
        row
          .map((cell, column) =>
            column < 2 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number),
          )
          .join('  '),
      );
  const daemon = result.daemon;
  const flood = result.flood;
  const cpu =
    daemon?.userSeconds === undefined || daemon.systemSeconds === undefined
      ? 'n/a'
      : `${(daemon.userSeconds + daemon.systemSeconds).toFixed(1)} s (user ${daemon.userSeconds.toFixed(1)} s, kernel ${daemon.systemSeconds.toFixed(1)} s` +
        `${daemon.mainThreadCpuSeconds === undefined ? '' : `; main thread ${daemon.mainThreadCpuSeconds.toFixed(1)} s`})`;
  lines.push(
    '',
    `The proxy during the flood (${daemon === undefined ? 'n/a' : `${daemon.wallSeconds.toFixed(1)} s`}): RssAnon ` +
      `${mb(daemon?.rssAnonKbBefore)} before, peak ${mb(daemon?.rssAnonKbPeak)} (${daemon?.samples ?? 0} samples); CPU ${cpu}; ` +
      `its main thread woke ${wakeUps(daemon)}; ` +
      `the kernel dropped ${daemon?.socketQueueDrops?.toLocaleString('en') ?? 'n/a'} datagrams for its full socket queue.`,
    flood === undefined
      ? 'The generator gave no result.'
      : `The hostile host sent ${flood.sent.toLocaleString('en')} reports (${flood.bigSent.toLocaleString('en')} with 1,000 sources) ` +
          `at ${Math.round(flood.ratePerS).toLocaleString('en')} a second (aimed at ${result.targetRate.toLocaleString('en')})` +
          `${flood.failed > 0 ? `, ${flood.failed} sends failed (errno ${flood.lastErrno})` : ''}.`,
    '',
    'Verdicts:',
    ...(markdown ? [''] : []),
    ...result.verdicts.map(
      (verdict) => `${markdown ? '- ' : '  '}${verdict.name}: ${verdict.verdict.toUpperCase()} (${verdict.detail})`,
    ),
  );
  return lines.join('\n');
}
