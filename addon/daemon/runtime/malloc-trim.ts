// Freed malloc memory back to the kernel (issue 14, memory). glibc returns only the free
// memory at the top of its heap; what V8's compilers and Node's buffers free in the middle
// during a burst of reports stays RssAnon (about 1.5 MB after 500 joins in the memory
// probe) until malloc_trim() releases it. A trim runs once, a short while after the daemon
// last did something, so an idle daemon never wakes up for it and a flood trims at most
// once per interval.
/** Long enough for a burst of joins (and the compiles it triggers) to finish first. */
export const TRIM_AFTER_MS = 2_000;

/** Runs `callback` once after `ms`; must not keep the process alive. */
export type ScheduleOnce = (callback: () => void, ms: number) => void;

export class MallocTrimmer {
  private pending = false;
  private readonly trim: () => void;
  private readonly schedule: ScheduleOnce;

  constructor(trim: () => void, schedule: ScheduleOnce) {
    this.trim = trim;
    this.schedule = schedule;
  }

  /** The daemon handled something: trim TRIM_AFTER_MS from now unless a trim is already due. */
  activity(): void {
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      this.trim();
    }, TRIM_AFTER_MS);
  }
}
