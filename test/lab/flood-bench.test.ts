// Unit tests of the bench's flood section's pure parts (`npm run bench -- --only flood`,
// scripts/bench/flood-plan.ts): the "within 2x of unloaded" verdicts, the report, and the
// command line. What the section measures is a speed figure: it runs in `npm run bench`, never here.
import { describe, expect, test } from 'vitest';
import {
  floodVerdicts,
  latencySet,
  p50Ratio,
  ratioVerdict,
  renderFlood,
  type FloodBenchResult,
} from '../../scripts/bench/flood-plan.ts';
import { parseBenchArgs } from '../../scripts/bench/options.ts';

const unloaded = latencySet([20, 10, 30, 40, 12], 0); // p50 20
describe('flood verdicts', () => {
  test('met at exactly 2x the unloaded p50, not met above it', () => {
    expect(ratioVerdict('join', unloaded, latencySet([40, 41, 39], 0))).toMatchObject({
      verdict: 'met',
      detail: '40.0 ms vs 20.0 ms: 2.00x',
    });
    expect(ratioVerdict('join', unloaded, latencySet([40.2, 41, 39], 0)).verdict).toBe('not met');
    expect(p50Ratio(unloaded, latencySet([10], 0))).toBe(0.5);
  });

  test('a change under the flood without its first packet fails the verdict, whatever the p50', () => {
    expect(ratioVerdict('zap', unloaded, latencySet([21, 22], 1))).toMatchObject({
      verdict: 'not met',
      detail: expect.stringContaining('1 of 3 got no first packet'),
    });
    expect(ratioVerdict('zap', unloaded, latencySet([], 4))).toMatchObject({
      verdict: 'not met',
      detail: expect.stringMatching(/n\/a; 4 of 4 got no first packet/),
    });
  });

  test('nothing measured is n/a, never a verdict', () => {
    expect(ratioVerdict('join', latencySet([], 3), latencySet([10], 0)).verdict).toBe('n/a');
    expect(ratioVerdict('join', unloaded, undefined).verdict).toBe('n/a');
    expect(ratioVerdict('join', unloaded, latencySet([], 0)).verdict).toBe('n/a');
    expect(floodVerdicts({}).map((verdict) => verdict.verdict)).toEqual(['n/a', 'n/a']);
  });
});

describe('flood report', () => {
  const result: FloodBenchResult = {
    id: 'ours',
    label: 'ours (dist/x86_64/igmpproxy)',
    command: [],
    available: true,
    targetRate: 2060,
    unloaded: { join: unloaded, zap: latencySet([30, 30], 0) },
    loaded: { join: latencySet([50, 60], 0), zap: latencySet([45], 2) },
    flood: { sent: 123_600, bigSent: 1_236, failed: 0, lastErrno: 0, durationMs: 60_000, ratePerS: 2_060 },
    daemon: {
      rssAnonKbBefore: 15_360,
      rssAnonKbPeak: 24_576,
      samples: 240,
      wallSeconds: 60.5,
      userSeconds: 30.25,
      systemSeconds: 4,
      socketQueueDrops: 5_125,
      mainThreadWakeUps: 60_500,
      mainThreadCpuSeconds: 31,
    },
    verdicts: [],
    failures: [],
    notes: [],
  };
  result.verdicts = floodVerdicts(result);

  test('both ways with the ratio, the missed ones, the proxy and the generator, the verdicts', () => {
    for (const markdown of [false, true]) {
      const text = renderFlood(result, markdown);
      expect(text).toMatch(/join -> first packet +\| none|join -> first packet +none/);
      expect(text).toContain('2.50x');
      expect(text).toContain('1 (+2 missed)');
      expect(text).toContain(
        'during the flood (60.5 s): RssAnon 15.0 MB before, peak 24.0 MB (240 samples); CPU 34.3 s (user 30.3 s, kernel 4.0 s; main thread 31.0 s); ' +
          'its main thread woke 60,500 times (1,000 a second); the kernel dropped 5,125 datagrams',
      );
      expect(text).toContain('123,600 reports (1,236 with 1,000 sources) at 2,060 a second');
      expect(text).toContain(
        'join -> first packet under the flood within 2x of unloaded (p50): NOT MET (50.0 ms vs 20.0 ms: 2.50x)',
      );
      expect(text).toContain('zap -> first packet under the flood within 2x of unloaded (p50): NOT MET');
    }
    expect(renderFlood(result, true)).toContain(
      '| join -> first packet | hostile host | 2 | 50.0 ms | 60.0 ms | 60.0 ms | 2.50x |',
    );
  });

  test('an unavailable proxy says why, with no figures', () => {
    expect(renderFlood({ ...result, available: false, reason: 'not installed' }, false)).toBe(
      'ours (dist/x86_64/igmpproxy): not available (not installed)',
    );
  });
});

describe('flood command line', () => {
  test('--only flood runs it alone; other parts are still refused by name', () => {
    expect(parseBenchArgs(['--only', 'flood'], '/').only).toBe('flood');
    expect(() => parseBenchArgs(['--only', 'floods'], '/')).toThrow(/lab, startup, memory or flood/);
  });
});
