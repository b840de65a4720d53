// Keeps the status document current without being asked: the web page reads it as
// `nobody` and cannot send SIGUSR1. The daemon calls changed() when the core's state
// generation moved; the document is written at once when the last write is at least
// minIntervalMs old, otherwise once when that interval ends (changes in between are in that
// one write). A timer exists only while a write is due: an idle daemon stays idle.
// Clock and timers are injected (tests drive them by hand).

export interface StatusPublisherDeps {
  /** Monotonic milliseconds. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
  /** Writes the document (reports its own errors). */
  write(): void;
}

export const STATUS_REWRITE_INTERVAL_MS = 2_000;

export class StatusPublisher {
  private readonly deps: StatusPublisherDeps;
  private readonly minIntervalMs: number;
  private lastWriteAt: number | undefined;
  private timer: unknown;
  private stopped = false;

  constructor(deps: StatusPublisherDeps, minIntervalMs = STATUS_REWRITE_INTERVAL_MS) {
    this.deps = deps;
    this.minIntervalMs = minIntervalMs;
  }

  /** The state changed: write now, or once when the interval since the last write ends. */
  changed(): void {
    if (this.stopped || this.timer !== undefined) return;
    const now = this.deps.now();
    const due = this.lastWriteAt === undefined ? now : this.lastWriteAt + this.minIntervalMs;
    if (due <= now) {
      this.write(now);
      return;
    }
    this.timer = this.deps.setTimer(() => {
      this.timer = undefined;
      if (!this.stopped) this.write(this.deps.now());
    }, due - now);
  }

  /** A write made for another reason (SIGUSR1) counts as one. */
  written(): void {
    this.lastWriteAt = this.deps.now();
  }

  /** Whether a write is waiting for its interval (a timer runs). */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clearTimer(this.timer);
    this.timer = undefined;
  }

  private write(now: number): void {
    this.lastWriteAt = now;
    this.deps.write();
  }
}
