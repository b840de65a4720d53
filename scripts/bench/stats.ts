// Summaries of latency samples. p50 is the nearest-rank median (a value that was measured,
// never an interpolation); samples that never arrived are counted apart, not dropped.
export interface Summary {
  readonly count: number;
  /** Samples that hit their time limit (not included in the figures). */
  readonly missed: number;
  /** Absent when nothing arrived. */
  readonly p50?: number;
  readonly min?: number;
  readonly max?: number;
}

/** Nearest-rank percentile (p in 0..100) of non-empty samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function summarize(samples: readonly number[], missed = 0): Summary {
  if (samples.length === 0) return { count: 0, missed };
  return {
    count: samples.length,
    missed,
    p50: percentile(samples, 50),
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}
