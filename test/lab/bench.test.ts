// Unit tests of the benchmark's pure parts (scripts/bench/): argument parsing, the
// latency summaries and the comparison table -- in particular that a proxy that was not
// measured yields "n/a", never a number or a verdict.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseBenchArgs } from '../../scripts/bench/options.ts';
import { parseProbeOutput, renderMemory } from '../../scripts/bench/memory.ts';
import { compare, renderMarkdown, renderText } from '../../scripts/bench/report.ts';
import type { ProxyResult } from '../../scripts/bench/results.ts';
import { percentile, summarize } from '../../scripts/bench/stats.ts';
import { evictFromPageCache, renderStartup, timeCommands } from '../../scripts/bench/startup.ts';

const hasFincore = spawnSync('fincore', ['-V']).status === 0; // Debian util-linux-extra
if (!hasFincore) console.warn('page-cache eviction test skipped: fincore (util-linux-extra) is not installed');

function result(id: 'c' | 'ours', metrics: ProxyResult['metrics'], available = true): ProxyResult {
  return {
    id,
    label: id,
    command: [],
    available,
    metrics,
    failures: [],
    notes: [],
    ...(available ? {} : { reason: 'not built' }),
  };
}

describe('bench options', () => {
  test('defaults: both proxies, 20 joins, 500 groups, output in the working directory', () => {
    expect(parseBenchArgs([], '/here')).toMatchObject({
      proxies: ['c', 'ours'],
      joins: 20,
      zaps: 10,
      manyGroups: 500,
      outDir: '/here',
      ispVersion: 3,
    });
  });

  test('--proxy picks one side; bad values are refused', () => {
    expect(parseBenchArgs(['--proxy', 'c'], '/').proxies).toEqual(['c']);
    expect(parseBenchArgs(['--proxy', 'ours', '--joins', '5', '--isp-version', '2'], '/')).toMatchObject({
      proxies: ['ours'],
      joins: 5,
      ispVersion: 2,
    });
    expect(() => parseBenchArgs(['--proxy', 'mine'], '/')).toThrow(/ours, c or both/);
    expect(() => parseBenchArgs(['--joins', '0'], '/')).toThrow(/1\.\.1000/);
    expect(() => parseBenchArgs(['--isp-version', '1'], '/')).toThrow();
    expect(() => parseBenchArgs(['--frobnicate'], '/')).toThrow(/unknown option/);
  });

  test('start-up comparison: 30 runs by default, 0 skips it, --only picks a part', () => {
    expect(parseBenchArgs([], '/')).toMatchObject({ startupRuns: 30, only: undefined });
    expect(parseBenchArgs(['--startup-runs', '0', '--only', 'lab'], '/')).toMatchObject({
      startupRuns: 0,
      only: 'lab',
    });
    expect(parseBenchArgs(['--only', 'startup'], '/').only).toBe('startup');
    expect(() => parseBenchArgs(['--only', 'startup', '--startup-runs', '0'], '/')).toThrow(/above 0/);
    expect(parseBenchArgs(['--only', 'memory'], '/').only).toBe('memory');
    expect(() => parseBenchArgs(['--only', 'everything'], '/')).toThrow(/lab, startup, memory or flood/);
  });
});

describe('bench memory table', () => {
  const output = [
    'start: RssAnon 10400 kB (before GC)',
    '    0 groups: RssAnon 10752 kB steady, 11059 kB after GC; heap new 2048/8',
    '  100 groups: RssAnon 12902 kB steady, 13004 kB after GC; heap new 2048/9',
    '  500 groups: RssAnon 14746 kB steady, 14541 kB after GC; heap new 2048/7',
    ' 2000 groups: RssAnon 19866 kB steady, 19968 kB after GC; heap new 2048/7',
  ].join('\n');

  test('reads every step of the probe', () => {
    expect(parseProbeOutput(output)).toEqual([
      { groups: 0, steadyKb: 10752, afterGcKb: 11059 },
      { groups: 100, steadyKb: 12902, afterGcKb: 13004 },
      { groups: 500, steadyKb: 14746, afterGcKb: 14541 },
      { groups: 2000, steadyKb: 19866, afterGcKb: 19968 },
    ]);
  });

  test('shows MB per step, the part above the floor and what each added group cost since the step before', () => {
    const text = renderMemory({ available: true, floorKb: 8908, rows: parseProbeOutput(output) }, true);
    expect(text).toContain('| 500 | 14.4 | 14.2 | 5.5 | 3.8 |'); // (14541 - 13004) / 400 = 3.84 kB
    expect(text).toContain('| 0 | 10.5 | 10.8 | 2.1 |  |');
    expect(text).toContain('floor (minimal single binary, same options, one socket, idle): 8.7 MB');
    expect(renderMemory({ available: false, reason: 'probe exit 1' }, false)).toBe(
      'memory per group: not available (probe exit 1)',
    );
  });
});

describe('bench start-up timing', () => {
  test('runs every command once untimed before the timed rounds', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipe8-bench-'));
    try {
      const counter = path.join(dir, 'runs');
      const rows = timeCommands(
        [{ id: 'count', label: 'count', command: ['/bin/sh', '-c', 'echo x >> "$0"', counter], expect: /^$/ }],
        3,
      );
      expect(rows[0]).toMatchObject({ available: true, runs: 3 });
      expect(readFileSync(counter, 'utf8')).toBe('x\nx\nx\nx\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.runIf(hasFincore)('drops a just-written file from the page cache (util-linux fincore shows it)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipe8-bench-'));
    try {
      const file = path.join(dir, 'binary');
      writeFileSync(file, Buffer.alloc(1 << 20, 1));
      const cached = (): number =>
        Number(
          spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], {
            encoding: 'utf8',
          }).stdout.trim(),
        );
      expect(cached()).toBe(1 << 20);
      expect(evictFromPageCache(file)).toBe(true);
      expect(cached()).toBe(0);
      expect(evictFromPageCache(path.join(dir, 'missing'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('times real commands round-robin; one that fails or prints the wrong thing is reported, not timed', () => {
    const rows = timeCommands(
      [
        { id: 'true', label: 'true', command: ['/bin/true'], expect: /^$/ },
        { id: 'echo', label: 'echo', command: ['/bin/echo', 'igmpproxy 1.0.0'], expect: /^igmpproxy \d/ },
        { id: 'false', label: 'false', command: ['/bin/false'], expect: /^$/ },
        { id: 'wrong', label: 'wrong output', command: ['/bin/echo', 'something else'], expect: /^igmpproxy/ },
      ],
      3,
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const id of ['true', 'echo']) {
      const row = byId.get(id);
      expect(row?.available).toBe(true);
      if (row?.available) {
        expect(row.runs).toBe(3);
        expect(row.min).toBeGreaterThan(0);
        expect(row.min).toBeLessThanOrEqual(row.p50);
        expect(row.p50).toBeLessThanOrEqual(row.p90);
      }
    }
    expect(byId.get('false')).toMatchObject({ available: false, reason: expect.stringMatching(/^exit 1/) });
    expect(byId.get('wrong')).toMatchObject({ available: false, reason: expect.stringContaining('something else') });
    const text = renderStartup(rows, false);
    expect(text).toMatch(/^wrong output +not available \(exit 0, printed "something else"\)$/m);
    expect(renderStartup(rows, true)).toMatch(/^\| true \| \d+\.\d \| \d+\.\d \| \d+\.\d \|$/m);
  });
});

describe('bench statistics', () => {
  test('nearest-rank percentiles return measured values', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([7], 50)).toBe(7);
    expect(() => percentile([], 50)).toThrow();
  });

  test('summaries keep missed samples apart', () => {
    expect(summarize([3, 1, 2], 1)).toEqual({ count: 3, missed: 1, p50: 2, min: 1, max: 3 });
    expect(summarize([], 4)).toEqual({ count: 0, missed: 4 });
  });
});

describe('bench comparison', () => {
  const c = result('c', {
    reportToFirstPacketMs: summarize([10, 12, 14]),
    joinToFirstPacketMs: summarize([20, 22, 24]),
    quickleaveFromWireMs: summarize([15]),
    leaveUpstreamWithoutQuickleaveMs: summarize([8_000]),
    cpuIdleSeconds: 0.01,
    rssAnonKbManyGroups: 200,
  });

  test('ratios and verdicts against the targets', () => {
    const ours = result('ours', {
      reportToFirstPacketMs: summarize([4, 5, 6]),
      joinToFirstPacketMs: summarize([18, 19, 20]),
      quickleaveFromWireMs: summarize([3, 20], 0),
      leaveUpstreamWithoutQuickleaveMs: summarize([2_010]),
      cpuIdleSeconds: 0,
      rssAnonKbManyGroups: 40 * 1024,
    });
    const rows = compare(c, ours);
    const row = (metric: string) => rows.find((entry) => entry.metric === metric);
    expect(row('TV report -> first packet p50')).toMatchObject({
      c: '12.0 ms',
      ours: '5.0 ms',
      ratio: '0.42x',
      verdict: 'met',
    });
    // 19 / 22 = 0.86 > 0.75
    expect(row('TV join -> first packet p50')).toMatchObject({ ratio: '0.86x', verdict: 'not met' });
    expect(row('quickleave: TV leave on the wire -> upstream leave p50')).toMatchObject({
      ours: '3.0 ms',
      verdict: 'met',
    });
    expect(row('no quickleave: TV leave -> upstream leave p50')).toMatchObject({ verdict: 'met' });
    expect(row('CPU (utime+stime) idle window')).toMatchObject({ ours: '0.00 s', verdict: 'met' });
    expect(row('RssAnon at many groups')).toMatchObject({
      ours: '40.0 MB',
      target: '<= 12 MB at 500 groups',
      verdict: 'not met',
    });
  });

  test('an unavailable proxy gives n/a everywhere, never a number or a verdict', () => {
    const rows = compare(c, result('ours', { cpuIdleSeconds: 0 }, false));
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      expect(row.ours).toBe('n/a');
      expect(row.verdict).toBe('n/a');
    }
    expect(rows.find((entry) => entry.metric === 'TV report -> first packet p50')?.c).toBe('12.0 ms');
  });

  test('text and Markdown tables carry every row', () => {
    const rows = compare(c, undefined);
    const text = renderText(rows, { c: 'C igmpproxy 0.3-1', ours: 'ours' });
    expect(text.split('\n')).toHaveLength(rows.length + 2);
    const markdown = renderMarkdown(rows, { c: 'C', ours: 'ours' });
    expect(markdown.split('\n')).toHaveLength(rows.length + 2);
    expect(markdown).toContain('| TV report -> first packet p50 | 12.0 ms | n/a |');
  });
});
