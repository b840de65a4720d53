// The daemon's clock for timers and ages: monotonic, in milliseconds, from an arbitrary
// origin (only differences mean anything). process.hrtime, not performance.now(): the
// performance global loads Node's perf_hooks modules, ~0.2 MB of heap for one clock.

export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}
