// Memory back to the system once the daemon is quiet (issue 14, memory). V8 runs without
// its memory reducer (it woke an idle daemon every 8 s), so after a burst of joins its heap
// kept the pages the burst filled, half empty, and glibc kept the free memory in the middle
// of its heap (V8's compiler zones, Node's buffers). QUIET_MS after the last thing the daemon
// did, it runs one memory-reducing full GC (only when the heap grew by GROWTH_BYTES since the
// last one: the query rounds every 125 s do not make an idle daemon collect) and then
// malloc_trim. Memory probe, native, 500 groups: RssAnon 14.1 -> 11.2-11.5 MB.
/** Longer than the pauses of someone zapping through channels: the GC never sits in a zap. */
export const QUIET_MS = 5_000;
/** Committed heap growth since the last collection that makes the next one worth it. */
export const GROWTH_BYTES = 1024 * 1024;

export interface MemoryReleaseDeps {
  /** Monotonic ms. */
  now(): number;
  /** Runs `callback` once after `ms`; must not keep the process alive. */
  schedule(callback: () => void, ms: number): void;
  /** V8's committed heap size (bytes). */
  heapBytes(): number;
  /** A full, memory-reducing GC; undefined where the runtime offers none (outside the single binary). */
  readonly collectGarbage: (() => void) | undefined;
  /** malloc_trim(0). */
  trimMalloc(): void;
}

export class MemoryRelease {
  private readonly deps: MemoryReleaseDeps;
  private lastActivity = 0;
  private pending = false;
  /** Committed heap after the last collection; undefined before the first (start-up garbage). */
  private heapAfterCollection: number | undefined;

  constructor(deps: MemoryReleaseDeps) {
    this.deps = deps;
  }

  /** The daemon handled something (a datagram, a timer). Cheap: a flood calls it per packet. */
  activity(): void {
    this.lastActivity = this.deps.now();
    if (this.pending) return;
    this.pending = true;
    this.deps.schedule(() => this.check(), QUIET_MS);
  }

  private check(): void {
    const quietFor = this.deps.now() - this.lastActivity;
    if (quietFor < QUIET_MS) {
      this.deps.schedule(() => this.check(), QUIET_MS - quietFor);
      return;
    }
    this.pending = false;
    const collect = this.deps.collectGarbage;
    if (collect !== undefined && (this.heapAfterCollection === undefined || this.deps.heapBytes() >= this.heapAfterCollection + GROWTH_BYTES)) {
      collect();
      this.heapAfterCollection = this.deps.heapBytes();
    }
    this.deps.trimMalloc();
  }
}

/**
 * V8's memory-reducing full GC through the `gc` function that --expose-gc (baked into the
 * single binary, build-config.ts) puts on the global object: "last-resort" is V8's
 * CollectAllAvailableGarbage, which also shrinks the young generation and gives free
 * pages back. Undefined without the flag.
 */
export function memoryReducingGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options: object) => unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  return () => void gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
