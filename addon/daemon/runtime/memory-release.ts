// Memory back to the system once the daemon is quiet (issue 14, memory). V8 runs without
// its memory reducer (it woke an idle daemon every 8 s), so after a burst of joins its heap
// kept the pages the burst filled, half empty, and glibc kept the free memory in the middle
// of its heap (V8's compiler zones, Node's buffers). QUIET_MS after the last thing the daemon
// did, it runs one memory-reducing full GC, only when V8's committed old generation grew by
// GROWTH_BYTES since start-up or the last collection (a burst of joins, not the query
// rounds every 125 s or a zap: an emulated VM showed such a GC costing nearly a second of
// CPU), and then malloc_trim. Start-up's garbage is collected as start-up's last step.
// Memory probe, native, 500 groups: RssAnon 14.1 -> 11.7-12.1 MB. A daemon that is never
// quiet is checked every QUIET_MS too: collected after BUSY_GROWTH_BYTES (a flood), or after
// GROWTH_BYTES at most once per BUSY_SLOW_INTERVAL_MS (TVs zapping without pause).
import { getHeapSpaceStatistics } from 'node:v8';

/** Longer than the pauses of someone zapping through channels: the GC never sits in a zap. */
export const QUIET_MS = 5_000;
/** Growth of the committed old generation (every space but the young one, whose size swings
 * by 1 MB on its own) that makes a collection worth it: 500 joins grow it by ~2 MB. */
export const GROWTH_BYTES = 1024 * 1024;
/** Growth collected even while the daemon never goes quiet (a hostile host flooding it, TVs
 * zapping without pause): the heap stays bounded, at the cost of one full GC per QUIET_MS at
 * most, and only while the flood keeps filling it. */
export const BUSY_GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * A daemon that is never quiet but grows slowly (TVs zapping every second) is collected at
 * GROWTH_BYTES too, at most once per this interval: each zap leaves ~2 kB of short-lived
 * objects in the old generation (they outlive two scavenges), which nothing else collects,
 * since V8's own old-generation limit sits far above a proxy's heap. With only
 * BUSY_GROWTH_BYTES the soak's RssAnon rose in a 4-5 MB step before the first collection
 * (issue 14, part 4).
 */
export const BUSY_SLOW_INTERVAL_MS = 60_000;

export interface MemoryReleaseDeps {
  /** Monotonic ms. */
  now(): number;
  /** Runs `callback` once after `ms`; must not keep the process alive. */
  schedule(callback: () => void, ms: number): void;
  /** V8's committed heap size (bytes) without the young generation. */
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
  /** Committed heap at the first quiet moment, then after each collection. */
  private heapBaseline: number | undefined;
  /** When the heap was last collected (or the baseline taken): paces the slow busy collections. */
  private collectedAt = 0;

  constructor(deps: MemoryReleaseDeps) {
    this.deps = deps;
  }

  /** Start-up is done (still part of start-up, not idle): its garbage goes at once. */
  started(): void {
    const collect = this.deps.collectGarbage;
    if (collect !== undefined) {
      collect();
      this.heapBaseline = this.deps.heapBytes();
      this.collectedAt = this.deps.now();
    }
    this.deps.trimMalloc();
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
      // Still busy (under a flood: one check per QUIET_MS): collect now only if the heap grew
      // a lot since a baseline was taken, or grew slowly and the last collection is a while ago.
      const slowDue = this.deps.now() - this.collectedAt >= BUSY_SLOW_INTERVAL_MS;
      if (this.heapBaseline !== undefined && this.collectIfGrown(slowDue ? GROWTH_BYTES : BUSY_GROWTH_BYTES)) {
        this.deps.trimMalloc();
      }
      this.deps.schedule(() => this.check(), QUIET_MS - quietFor);
      return;
    }
    this.pending = false;
    this.collectIfGrown(GROWTH_BYTES);
    this.deps.trimMalloc();
  }

  /** A memory-reducing GC when the committed heap grew by `growth` since the baseline. */
  private collectIfGrown(growth: number): boolean {
    const collect = this.deps.collectGarbage;
    if (collect === undefined) return false;
    const heap = this.deps.heapBytes();
    if (this.heapBaseline === undefined) {
      this.heapBaseline = heap;
      this.collectedAt = this.deps.now();
      return false;
    }
    if (heap < this.heapBaseline + growth) return false;
    collect();
    this.heapBaseline = this.deps.heapBytes();
    this.collectedAt = this.deps.now();
    return true;
  }
}

/** V8's committed heap without the young generation (new_space). */
export function oldGenerationBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name !== 'new_space') bytes += space.space_size;
  return bytes;
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
