// Turns the two proxies' results into the comparison table (console and Markdown), with
// the issue's targets as ours/C ratios or absolute limits and an honest verdict: "n/a"
// whenever a side was not measured.
import type { ProxyResult } from './results.ts';
import type { Summary } from './stats.ts';

export type Verdict = 'met' | 'not met' | 'n/a';

export interface ComparisonRow {
  readonly metric: string;
  readonly c: string;
  readonly ours: string;
  readonly ratio: string;
  readonly target: string;
  readonly verdict: Verdict;
}

type Unit = 'ms' | 's' | 'MB';

function format(value: number | undefined, unit: Unit): string {
  if (value === undefined) return 'n/a';
  if (unit === 'ms') return `${value.toFixed(1)} ms`;
  if (unit === 's') return `${value.toFixed(2)} s`;
  return `${value.toFixed(1)} MB`;
}

function withMissed(text: string, summary: Summary | undefined): string {
  return summary && summary.missed > 0 ? `${text} (${summary.missed} missed)` : text;
}

function ratioOf(ours: number | undefined, c: number | undefined): number | undefined {
  if (ours === undefined || c === undefined || c <= 0) return undefined;
  return ours / c;
}

function ratioVerdict(ratio: number | undefined, limit: number): Verdict {
  return ratio === undefined ? 'n/a' : ratio <= limit ? 'met' : 'not met';
}

function absoluteVerdict(value: number | undefined, ok: (value: number) => boolean): Verdict {
  return value === undefined ? 'n/a' : ok(value) ? 'met' : 'not met';
}

/** The comparison rows; either side may be missing or unavailable. */
export function compare(c: ProxyResult | undefined, ours: ProxyResult | undefined): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const cm = c?.available ? c.metrics : undefined;
  const om = ours?.available ? ours.metrics : undefined;

  const latency = (
    metric: string,
    pick: (m: NonNullable<typeof cm>) => Summary | undefined,
    ratioLimit?: number,
    absolute?: { target: string; ok: (value: number) => boolean },
  ): void => {
    const cs = cm ? pick(cm) : undefined;
    const os = om ? pick(om) : undefined;
    const ratio = ratioOf(os?.p50, cs?.p50);
    rows.push({
      metric: `${metric} p50`,
      c: withMissed(format(cs?.p50, 'ms'), cs),
      ours: withMissed(format(os?.p50, 'ms'), os),
      ratio: ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`,
      target: ratioLimit !== undefined ? `<= ${ratioLimit}x C` : (absolute?.target ?? ''),
      verdict:
        ratioLimit !== undefined
          ? ratioVerdict(ratio, ratioLimit)
          : absolute
            ? absoluteVerdict(os?.p50, absolute.ok)
            : 'n/a',
    });
    const maxRatio = ratioOf(os?.max, cs?.max);
    rows.push({
      metric: `${metric} max`,
      c: format(cs?.max, 'ms'),
      ours: format(os?.max, 'ms'),
      ratio: maxRatio === undefined ? 'n/a' : `${maxRatio.toFixed(2)}x`,
      target: '',
      verdict: 'n/a',
    });
  };

  latency('TV report -> first packet', (m) => m.reportToFirstPacketMs, 0.5);
  latency('TV join -> first packet', (m) => m.joinToFirstPacketMs, 0.75);
  latency('TV join -> upstream report at isp', (m) => m.joinToUpstreamReportMs);
  latency('zap (leave A + join B) -> first packet of B', (m) => m.zapMs, 0.75);
  latency('quickleave: TV leave on the wire -> upstream leave', (m) => m.quickleaveFromWireMs, undefined, {
    target: '< 10 ms',
    ok: (value) => value < 10,
  });
  latency('quickleave: TV leave call -> upstream leave', (m) => m.quickleaveUpstreamLeaveMs);
  latency('no quickleave: TV leave -> upstream leave', (m) => m.leaveUpstreamWithoutQuickleaveMs, undefined, {
    target: '~2 s (1.5-3 s; C: 8-16 s)',
    ok: (value) => value >= 1_500 && value <= 3_000,
  });

  const scalar = (
    metric: string,
    unit: Unit,
    pick: (m: NonNullable<typeof cm>) => number | undefined,
    target: string,
    ok?: (value: number) => boolean,
  ): void => {
    const cv = cm ? pick(cm) : undefined;
    const ov = om ? pick(om) : undefined;
    const ratio = ratioOf(ov, cv);
    rows.push({
      metric,
      c: format(cv, unit),
      ours: format(ov, unit),
      ratio: ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`,
      target,
      verdict: ok ? absoluteVerdict(ov, ok) : 'n/a',
    });
  };
  const window = (c ?? ours)?.metrics.manyGroupsWindowSeconds;
  scalar(
    'CPU (utime+stime) idle window',
    's',
    (m) => m.cpuIdleSeconds,
    '0 (no ticks)',
    (value) => value === 0,
  );
  scalar(
    `CPU joining + holding many groups${window ? ` (${window.toFixed(0)} s)` : ''}`,
    's',
    (m) => m.cpuManyGroupsSeconds,
    '',
  );
  scalar('RssAnon idle', 'MB', (m) => kbToMb(m.rssAnonKbIdle), '');
  scalar(
    'RssAnon at many groups',
    'MB',
    (m) => kbToMb(m.rssAnonKbManyGroups),
    '<= 12 MB at 500 groups',
    (value) => value <= 12,
  );
  const groups = (m: NonNullable<typeof cm> | undefined): string => {
    const g = m?.manyGroups;
    return g
      ? `${g.upstreamJoined}/${g.requested} upstream, ${g.tvReceiving}/${g.requested} at TV${g.proxyRunningAfter ? '' : ', proxy died'}`
      : 'n/a';
  };
  rows.push({
    metric: 'many groups: joined upstream / streamed to TV',
    c: groups(cm),
    ours: groups(om),
    ratio: '',
    target: 'all',
    verdict: om?.manyGroups ? (om.manyGroups.tvReceiving === om.manyGroups.requested ? 'met' : 'not met') : 'n/a',
  });
  return rows;
}

function kbToMb(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : kb / 1024;
}

/** Fixed-width text table for the console. */
export function renderText(rows: readonly ComparisonRow[], headers: { c: string; ours: string }): string {
  const table = [
    ['metric', headers.c, headers.ours, 'ours/C', 'target', 'verdict'],
    ...rows.map((row) => [row.metric, row.c, row.ours, row.ratio, row.target, row.target === '' ? '' : row.verdict]),
  ];
  const widths = (table[0] as string[]).map((_, column) =>
    Math.max(...table.map((row) => (row[column] as string).length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] as number))
      .join('  ')
      .trimEnd();
  return [
    line(table[0] as string[]),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...table.slice(1).map(line),
  ].join('\n');
}

export function renderMarkdown(rows: readonly ComparisonRow[], headers: { c: string; ours: string }): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  return [
    `| metric | ${escape(headers.c)} | ${escape(headers.ours)} | ours/C | target | verdict |`,
    '|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${[row.metric, row.c, row.ours, row.ratio, row.target, row.target === '' ? '' : row.verdict].map(escape).join(' | ')} |`,
    ),
  ].join('\n');
}
