// What every core module shares: protocol settings, the timer queue, the injected clock
// and randomness, and the sink for effects. Owned by IgmpProxyCore; modules never do I/O.
import type { Effect, LogEffect } from './effects.ts';
import type { ProtocolSettings } from './settings.ts';
import type { TimerQueue } from './timers.ts';

export interface CoreContext {
  readonly settings: ProtocolSettings;
  readonly timers: TimerQueue;
  /** Monotonic ms. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
  emit(effect: Effect): void;
  log(level: LogEffect['level'], message: string): void;
  /** Read at each decision so a reload takes effect at once. */
  quickLeave(): boolean;
}
