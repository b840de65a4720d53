// How much slower than native this test run's kernel and CPU are. The test VM
// (scripts/vm) sets IGMPPROXY_TEST_SLOWDOWN for the suites it runs: under TCG emulation a
// Node process starts ~50x slower and protocol round trips ~7x. Tests scale their waits
// and timeouts with it; what they assert never changes.
const raw = process.env.IGMPPROXY_TEST_SLOWDOWN ?? '1';
const parsed = Number(raw);

/** The factor (>= 1) by which waits and timeouts are stretched in this run. */
export const SLOWDOWN = Number.isFinite(parsed) && parsed >= 1 ? parsed : 1;

/** A wait or timeout of `ms` on a native machine, stretched for this run. */
export function scaled(ms: number): number {
  return Math.round(ms * SLOWDOWN);
}
