// What one proxy's run of the benchmark produced. Every figure is optional: a scenario
// that failed or timed out leaves its figure out and says why in `failures` -- the bench
// never fills in a number it did not measure.
import type { ProxyId } from './options.ts';
import type { Summary } from './stats.ts';

export interface ManyGroupsResult {
  readonly requested: number;
  /** Joins the TV's kernel accepted. */
  readonly tvJoined: number;
  /** Groups the provider saw joined on the proxy's upstream link. */
  readonly upstreamJoined: number;
  /** Groups whose stream reached the TV within the time limit. */
  readonly tvReceiving: number;
  readonly proxyRunningAfter: boolean;
  /** Proxy log lines about failed joins / exceeded limits, with one example. */
  readonly proxyJoinWarnings: number;
  readonly exampleWarning?: string;
}

export interface ProxyMetrics {
  /** From the TV's join call. */
  joinToFirstPacketMs?: Summary;
  /** From the TV's report on its link. */
  reportToFirstPacketMs?: Summary;
  joinToUpstreamReportMs?: Summary;
  zapMs?: Summary;
  /** From the TV's leave call (includes the TV kernel's own report delay). */
  quickleaveUpstreamLeaveMs?: Summary;
  /** From the TV's leave message on its link: the proxy's own reaction. */
  quickleaveFromWireMs?: Summary;
  leaveUpstreamWithoutQuickleaveMs?: Summary;
  cpuIdleSeconds?: number;
  cpuManyGroupsSeconds?: number;
  /** Length of the window cpuManyGroupsSeconds covers (joins + hold). */
  manyGroupsWindowSeconds?: number;
  rssAnonKbManyGroups?: number;
  rssAnonKbIdle?: number;
  manyGroups?: ManyGroupsResult;
}

export interface ProxyResult {
  readonly id: ProxyId;
  readonly label: string;
  readonly command: readonly string[];
  available: boolean;
  /** Why the proxy could not be measured at all. */
  reason?: string;
  readonly metrics: ProxyMetrics;
  /** Scenario failures (time limits hit, proxy died, …). */
  readonly failures: string[];
  /** Observations worth reading next to the numbers. */
  readonly notes: string[];
}
