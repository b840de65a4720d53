// Runs one job per appliance with bounded concurrency and collects one result per host.
import { oneLine } from './errors.ts';

export interface HostOutcome {
  readonly label: string;
  readonly ok: boolean;
  /** What was done, or the one-line reason it failed. */
  readonly message: string;
}

/** Runs `job` for every item, at most `limit` at a time; results keep the input order. */
export async function runBounded<T, R>(
  items: readonly T[],
  limit: number,
  job: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const index = nextIndex++;
      results[index] = await job(items[index] as T, index);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker());
  await Promise.all(workers);
  return results;
}

/** Never throws: a failure becomes a failed outcome with its one-line reason. */
export async function settleHost(
  label: string,
  onFailure: (reason: string) => void,
  work: () => Promise<string>,
): Promise<HostOutcome> {
  try {
    return { label, ok: true, message: await work() };
  } catch (error) {
    const reason = oneLine(error);
    onFailure(reason);
    return { label, ok: false, message: reason };
  }
}

export function summaryLines(outcomes: readonly HostOutcome[]): string[] {
  const width = Math.max(...outcomes.map((outcome) => outcome.label.length), 0);
  return outcomes.map(
    (outcome) => `${outcome.label.padEnd(width)}  ${outcome.ok ? 'OK    ' : 'FAILED'}  ${outcome.message}`,
  );
}
