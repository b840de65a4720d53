// Unit tests of the soak's pure parts (`npm run bench -- --soak`, scripts/bench/soak-plan.ts):
// the sampling schedule, the zap ticks, percentiles, the three verdicts, the report, the
// command line, and the lab's measure of the longest silence of a stream.
import { describe, expect, test } from 'vitest';
import { parseBenchArgs } from '../../scripts/bench/options.ts';
import {
  gapVerdict,
  latencyPercentiles,
  memoryReference,
  nextTickMs,
  renderSoak,
  rssVerdict,
  sampleOffsetsMs,
  soakVerdicts,
  zapVerdict,
  type SoakResult,
  type SoakSample,
} from '../../scripts/bench/soak-plan.ts';
import { SilenceTracker } from '../../scripts/lab/silence-tracker.ts';

const MINUTE = 60_000;

describe('soak sampling schedule', () => {
  test('start, every 5 minutes, end', () => {
    expect(sampleOffsetsMs(30 * MINUTE)).toEqual([0, 5, 10, 15, 20, 25, 30].map((m) => m * MINUTE));
    expect(sampleOffsetsMs(12 * MINUTE)).toEqual([0, 5, 10, 12].map((m) => m * MINUTE));
    expect(sampleOffsetsMs(10 * MINUTE)).toEqual([0, 5, 10].map((m) => m * MINUTE));
  });

  test("runs shorter than 10 minutes also sample at the first half's end, their memory reference", () => {
    expect(sampleOffsetsMs(1 * MINUTE)).toEqual([0, 30_000, 60_000]);
    expect(sampleOffsetsMs(7 * MINUTE)).toEqual([0, 3.5 * MINUTE, 5 * MINUTE, 7 * MINUTE]);
    expect(memoryReference(2 * MINUTE)).toMatchObject({
      atMs: MINUTE,
      label: expect.stringMatching(/first half .*shorter than 10 minutes/),
    });
    expect(memoryReference(30 * MINUTE)).toEqual({ atMs: 5 * MINUTE, label: 'after the first 5 minutes' });
    expect(() => sampleOffsetsMs(0)).toThrow(RangeError);
  });
});

describe('soak zap ticks', () => {
  test('the next tick after now, skipping ticks a slow zap missed', () => {
    expect(nextTickMs(0, 1000, 0)).toBe(1000);
    expect(nextTickMs(0, 1000, 999)).toBe(1000);
    expect(nextTickMs(0, 1000, 1000)).toBe(2000);
    expect(nextTickMs(0, 1000, 3500)).toBe(4000);
    expect(nextTickMs(500, 1000, 0)).toBe(1500); // before the schedule's start: its first tick
  });
});

describe('soak percentiles', () => {
  test('nearest rank p50/p90/p99 and max of measured values', () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index); // 100 .. 1, unsorted order
    expect(latencyPercentiles(samples)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(latencyPercentiles([7, 3])).toEqual({ count: 2, p50: 3, p90: 7, p99: 7, max: 7 });
    expect(latencyPercentiles([])).toEqual({ count: 0 });
  });
});

describe('soak verdicts', () => {
  const reference = memoryReference(30 * MINUTE);

  test('RssAnon at the end within 10% of the reference, either way', () => {
    expect(rssVerdict(reference, 10_000, 11_000)).toMatchObject({
      verdict: 'met',
      detail: expect.stringContaining('+10.0%'),
    });
    expect(rssVerdict(reference, 10_000, 11_010).verdict).toBe('not met');
    expect(rssVerdict(reference, 10_000, 8_500)).toMatchObject({
      verdict: 'not met',
      detail: expect.stringContaining('-15.0%'),
    });
    expect(rssVerdict(reference, undefined, 11_000).verdict).toBe('n/a');
    expect(rssVerdict(reference, 10_000, undefined).verdict).toBe('n/a');
  });

  test('held channel: a gap of 1 s passes, longer fails, none measured is n/a', () => {
    expect(gapVerdict(1000, 0)).toMatchObject({
      verdict: 'met',
      detail: 'longest gap 1000 ms (limit 1000 ms), 0 packets lost',
    });
    expect(gapVerdict(1001, 3).verdict).toBe('not met');
    expect(gapVerdict(undefined, undefined).verdict).toBe('n/a');
  });

  test('zaps: one failure fails it, no zap at all is n/a', () => {
    expect(zapVerdict(3600, 0).verdict).toBe('met');
    expect(zapVerdict(3600, 1)).toMatchObject({ verdict: 'not met', detail: '1 of 3600 zaps failed' });
    expect(zapVerdict(0, 0).verdict).toBe('n/a');
  });

  const sample = (minutes: number, rssAnonKb: number | undefined): SoakSample => ({
    atMs: minutes * MINUTE,
    rssAnonKb,
    cpuSeconds: minutes * 0.6,
    heldPackets: minutes * 6000,
    heldLost: 0,
    zaps: minutes * 120,
    zapsFailed: 0,
    load1: 1.5,
  });

  function run(minutes: number, samples: SoakSample[]): SoakResult {
    const result: SoakResult = {
      id: 'ours',
      label: 'ours',
      command: [],
      available: true,
      minutes,
      heldChannel: '239.70.0.1',
      zapChannels: [],
      samples,
      held: {
        packets: 180_000,
        lost: 0,
        outOfOrder: 0,
        longestGapMs: 42,
        longestGapEndedAtS: 600,
        senderPauseMs: 12,
        skipped: 0,
        sent: 180_010,
      },
      zaps: { count: 3600, failed: 0, latencyMs: latencyPercentiles([20, 30, 40]), failures: [] },
      verdicts: [],
      failures: [],
      notes: [],
    };
    result.verdicts = soakVerdicts(result);
    return result;
  }

  test('the reference is the 5-minute sample, not the start (which has no channels yet)', () => {
    const samples = [
      sample(0, 8_000),
      sample(5, 16_000),
      sample(10, 16_500),
      sample(15, 16_800),
      sample(20, 17_000),
      sample(25, 17_000),
      sample(30, 17_200),
    ];
    expect(
      soakVerdicts({ minutes: 30, samples, held: run(30, samples).held, zaps: run(30, samples).zaps }).map(
        (verdict) => verdict.verdict,
      ),
    ).toEqual(['met', 'met', 'met']);
    const grown = samples.map((entry) => (entry.atMs === 30 * MINUTE ? { ...entry, rssAnonKb: 18_000 } : entry));
    expect(soakVerdicts(run(30, grown))[0]?.verdict).toBe('not met');
  });

  test('a 2-minute run compares the end with the 1-minute sample', () => {
    const verdicts = soakVerdicts(run(2, [sample(0, 8_000), sample(1, 20_000), sample(2, 21_000)]));
    expect(verdicts[0]).toMatchObject({ verdict: 'met', detail: expect.stringContaining('first half (1:00') });
  });

  test('the report: table over time with CPU share per interval, held channel, zap percentiles, verdicts', () => {
    const result = run(10, [sample(0, 8_000), sample(5, 16_000), sample(10, 16_384)]);
    const markdown = renderSoak(result, true);
    expect(markdown).toContain('| time | RssAnon MB | CPU s (total) | CPU % since previous |');
    // 3.0 s of CPU in 5 minutes: 1.00%
    expect(markdown).toContain('| 5:00 | 15.6 | 3.00 | 1.00 | 30000 | 0 | 600 | 0 | 1.50 |');
    expect(markdown).toContain(
      'Held channel 239.70.0.1: 180000 packets, 0 lost, 0 out of order, longest gap 42 ms ' +
        "(ended 10:00 into the soak; the provider's own pause there 12 ms, 0 packets skipped); the provider sent 180010.",
    );
    expect(markdown).toContain('p50 30.0 ms, p90 40.0 ms, p99 40.0 ms, max 40.0 ms');
    expect(markdown).toMatch(
      /^- RssAnon at the end within 10%: MET \(16\.0 MB at the end vs 15\.6 MB after the first 5 minutes: \+2\.4%/m,
    );
    expect(markdown).toContain('- no zap failed: MET (0 of 3600 zaps failed)');
    const text = renderSoak(result, false);
    expect(text.split('\n')[0]).toMatch(/^time +RssAnon MB +CPU s \(total\)/);
    expect(text).toMatch(/^ {2}held channel: no gap over 1 s: MET/m);
  });
});

describe('soak command line', () => {
  test('--soak runs ours alone with a time limit that fits; --proxy both doubles it', () => {
    expect(parseBenchArgs(['--soak', '30'], '/')).toMatchObject({
      soakMinutes: 30,
      proxies: ['ours'],
      timeLimitSeconds: 2100,
    });
    expect(parseBenchArgs(['--soak', '2', '--proxy', 'both'], '/')).toMatchObject({
      proxies: ['c', 'ours'],
      timeLimitSeconds: 840,
    });
    expect(parseBenchArgs([], '/').soakMinutes).toBeUndefined();
  });

  test('refuses a bad duration, --only beside it and a time limit too short for it', () => {
    expect(() => parseBenchArgs(['--soak', '0'], '/')).toThrow(/1\.\.1440/);
    expect(() => parseBenchArgs(['--soak', 'x'], '/')).toThrow(/1\.\.1440/);
    expect(() => parseBenchArgs(['--soak', '2', '--only', 'lab'], '/')).toThrow(/runs alone/);
    expect(() => parseBenchArgs(['--time-limit', '60', '--soak', '2'], '/')).toThrow(/too short/);
  });
});

describe('longest silence of a stream', () => {
  test('the longest time between two packets, and when it ended', () => {
    const tracker = new SilenceTracker();
    expect(tracker.longestUntil(100)).toBe(0); // nothing yet: no stream, no silence
    // Sent every 10 ms; the sender paused 1 s after sequence 3, then the packets after it
    // were held up another 500 ms and sequences 5 and 6 never came.
    for (const [at, sent, sequence] of [
      [0, 0, 1],
      [10, 10, 2],
      [20, 20, 3],
      [1520, 1020, 7],
      [1530, 1030, 8],
    ] as const) {
      tracker.record(at, sent, sequence);
    }
    expect({
      longest: tracker.longestMs,
      endedAt: tracker.longestEndedAt,
      sendGap: tracker.longestSendGapMs,
      skipped: tracker.longestSkipped,
    }).toEqual({ longest: 1500, endedAt: 1520, sendGap: 1000, skipped: 3 });
  });

  test('a silence still going on counts: a stream that stopped for good is its longest gap', () => {
    const tracker = new SilenceTracker();
    for (const at of [0, 10, 20]) tracker.record(at, at, at / 10);
    expect(tracker.longestUntil(25)).toBe(10);
    expect(tracker.longestUntil(5020)).toBe(5000);
  });
});
