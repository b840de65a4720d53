// Watches the test VM's console while it boots: decides whether the guest reached its
// milestone in time, keeps what it printed before (for diagnosis, printed only when the
// boot fails) and passes the command's own output on. Pure: text and clock come in as
// arguments; scripts/vm/watched-process.ts runs the process and the timer.
//
// Once a CI run's VM printed nothing for 33 minutes (qemu busy, no vitest line) and the
// next start of the same VM reached vitest within a minute: the watchdog turns such a
// boot into a prompt kill and one retry instead of the run's 50-minute timeout.

/** The line guest-stage2.sh prints just before it runs the command (and nothing else may). */
export const COMMAND_STARTS_MARKER = 'test VM: the command starts';

/**
 * How far the guest must get within the deadline: the stage-2 marker, or the command's
 * first visible output after it (vitest's "RUN" line), which also covers a command that
 * hangs while it starts.
 */
export type BootMilestone = 'command-starts' | 'command-output';

export interface BootWatchOptions {
  readonly milestone: BootMilestone;
  /** From the start of the process. */
  readonly deadlineMs: number;
  /** How many of the guest's last lines before the milestone to keep. */
  readonly keepLines?: number;
}

export type BootVerdict =
  | { readonly kind: 'reached'; readonly afterMs: number }
  | { readonly kind: 'waiting'; readonly remainingMs: number }
  | { readonly kind: 'stalled'; readonly reason: string };

const DEFAULT_KEEP_LINES = 60;
const QUOTED_LINE_MAX = 160;

export class BootWatch {
  readonly #options: BootWatchOptions;
  readonly #startedMs: number;
  #partial = '';
  #kept: { readonly atMs: number; readonly line: string }[] = [];
  #lastLine = '';
  #commandStarted = false;
  #reachedMs: number | undefined;
  #partialAtMs: number | undefined;

  constructor(options: BootWatchOptions, startedMs: number) {
    this.#options = options;
    this.#startedMs = startedMs;
  }

  /** Takes console text as it arrives; returns the part to pass on: the command's output. */
  feed(text: string, nowMs: number): string {
    if (this.#commandStarted) {
      this.#noteCommandOutput(text, nowMs);
      return text;
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (line.trim() === COMMAND_STARTS_MARKER) {
        this.#commandStarted = true;
        this.#lastLine = COMMAND_STARTS_MARKER;
        if (this.#options.milestone === 'command-starts') this.#reachedMs ??= nowMs;
        const rest = [...lines.slice(i + 1), this.#partial].join('\n');
        this.#partial = '';
        this.#partialAtMs = undefined;
        this.#noteCommandOutput(rest, nowMs);
        return rest;
      }
      this.#keep(line, nowMs);
    }
    if (this.#partial.trim() !== '') {
      this.#lastLine = this.#partial.trim();
      this.#partialAtMs ??= nowMs;
    } else this.#partialAtMs = undefined;
    return '';
  }

  verdict(nowMs: number): BootVerdict {
    if (this.#reachedMs !== undefined) return { kind: 'reached', afterMs: this.#reachedMs - this.#startedMs };
    const remainingMs = this.#startedMs + this.#options.deadlineMs - nowMs;
    if (remainingMs > 0) return { kind: 'waiting', remainingMs };
    const goal =
      this.#options.milestone === 'command-starts'
        ? `did not start the command ("${COMMAND_STARTS_MARKER}")`
        : 'printed no output of the command';
    const last = this.#lastLine === '' ? 'nothing' : quoted(this.#lastLine);
    return {
      kind: 'stalled',
      reason: `the guest ${goal} within ${Math.round(this.#options.deadlineMs / 1000)} s; the last it printed: ${last}`,
    };
  }

  /**
   * The guest's last lines before the command started (the boot), oldest first, each
   * with the time it arrived after the start ("  9.1 s  test VM: stage 2 starts").
   */
  bootLines(): string[] {
    const kept =
      this.#partialAtMs === undefined ? this.#kept : [...this.#kept, { atMs: this.#partialAtMs, line: this.#partial }];
    return kept.map(({ atMs, line }) => `${((atMs - this.#startedMs) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  }

  #noteCommandOutput(text: string, nowMs: number): void {
    const visible = text.split('\n').findLast((line) => line.trim() !== '');
    if (visible === undefined) return;
    this.#lastLine = visible.trim();
    this.#reachedMs ??= nowMs;
  }

  #keep(line: string, nowMs: number): void {
    if (line.trim() !== '') this.#lastLine = line.trim();
    this.#kept.push({ atMs: this.#partialAtMs ?? nowMs, line });
    this.#partialAtMs = undefined;
    const keep = this.#options.keepLines ?? DEFAULT_KEEP_LINES;
    if (this.#kept.length > keep) this.#kept.splice(0, this.#kept.length - keep);
  }
}

/** A guest line quoted for one log line: control characters escaped, length bounded. */
function quoted(line: string): string {
  const short = line.length > QUOTED_LINE_MAX ? `${line.slice(0, QUOTED_LINE_MAX)}…` : line;
  return JSON.stringify(short);
}
