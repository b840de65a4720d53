// Upload progress: a redrawn bar on a terminal, a few plain lines otherwise (logs, CI, several
// hosts at once). Rendering is pure; the sink decides when to write.

export interface ProgressSink {
  update(done: number, total: number): void;
  finish(): void;
}

function megabytes(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}

export function renderBar(label: string, done: number, total: number, elapsedMs: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% ${megabytes(done)}/${megabytes(total)} MB ${megabytes(rate)} MB/s`;
}

/** Plain-line milestones (percent) already passed when `done` of `total` bytes are sent. */
export function milestonesReached(done: number, total: number, steps: readonly number[] = [25, 50, 75, 100]): number[] {
  const percent = total > 0 ? (done / total) * 100 : 100;
  return steps.filter((step) => percent >= step);
}

export function terminalProgress(label: string, write: (raw: string) => void, now: () => number): ProgressSink {
  const started = now();
  let lastDraw = -Infinity;
  let lastText = '';
  return {
    update(done, total) {
      const time = now();
      if (done < total && time - lastDraw < 100) return;
      lastDraw = time;
      lastText = renderBar(label, done, total, time - started);
      write(`\r${lastText}`);
    },
    finish() {
      if (lastText !== '') write('\n');
    },
  };
}

/** Files below this size get no plain progress lines: they are done before anyone reads them. */
export const LINE_PROGRESS_MIN_BYTES = 1_048_576;

export function lineProgress(label: string, line: (text: string) => void): ProgressSink {
  const printed = new Set<number>();
  return {
    update(done, total) {
      if (total < LINE_PROGRESS_MIN_BYTES) return;
      for (const step of milestonesReached(done, total)) {
        if (printed.has(step)) continue;
        printed.add(step);
        line(`${label} ${step}% (${megabytes(done)}/${megabytes(total)} MB)`);
      }
    },
    finish() {},
  };
}
