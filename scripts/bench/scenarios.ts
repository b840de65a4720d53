// The benchmark scenarios, run against one proxy in a fresh IPTV lab:
//   1. start (quickleave config), settle, idle CPU window, RssAnon idle
//   2. probe: one join must bring a stream, otherwise the proxy is "not functional"
//   3. joins: TV join -> first packet, TV's report on the wire -> first packet,
//      TV join -> upstream report at the isp; each leave: quickleave upstream leave
//   4. zaps: leave A + join B -> first packet of B (3. and 4. never faster than our
//      report pacing's rate: see MIN_ITERATION_MS)
//   5. many groups: one TV joins N groups; CPU over joins + hold, RssAnon, what got through
//   6. restart without quickleave: TV leave -> upstream leave
// Every wait has a time limit, a failed scenario is recorded and the next one runs; the
// whole suite stops early when the run's deadline comes.
import { readFileSync } from 'node:fs';
import { IptvLab } from '../lab/iptv-lab.ts';
import type { ProxyHandle, TvHandle } from '../lab/iptv-lab.ts';
import type { LabEvent } from '../lab/program-client.ts';
import { startCandidate, type ProxyCandidate } from './candidates.ts';
import type { BenchOptions } from './options.ts';
import type { ProxyResult } from './results.ts';
import { anonymousByKind } from './smaps-kinds.ts';
import { summarize } from './stats.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';
import { REPORT_REFILL_MS } from '../../addon/daemon/core/settings.ts';
import { STATUS_REWRITE_INTERVAL_MS } from '../../addon/daemon/runtime/status-publisher.ts';

// Start-up is not idle: both proxies send their first queries and the kernels their own
// reports for 224.0.0.2/224.0.0.22 within the first seconds (random delays up to ~1 s,
// repeated); the idle window starts after that.
const SETTLE_MS = 5_000;
const FIRST_PACKET_LIMIT_MS = 5_000;
const PROBE_LIMIT_MS = 10_000;
const QUICKLEAVE_LIMIT_MS = 2_000;
const NO_QUICKLEAVE_LIMIT_MS = 30_000;
const MANY_GROUPS_ARRIVAL_LIMIT_MS = 20_000;
/** Packets per second the isp sends in the many-groups scenario (all groups together). */
const MANY_GROUPS_PPS = 2_500;
const LEAVES_WITHOUT_QUICKLEAVE = 3;
const JOIN_WARNING = /exceed|ENOBUFS|No buffer space|MEMBERSHIP failed|igmp_max_memberships/i;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The join and zap loops measure the latency of single channel changes, not throughput.
// Each iteration makes two upstream reports (a join and a leave); our daemon paces them
// (core/settings.ts), C igmpproxy does not. An iteration therefore lasts at least as long
// as the pacing takes to give back two tokens, so no measured join waits for a token and
// the comparison stays fair; our status counter `pacedChanges` is reported to show it.
const REPORTS_PER_ITERATION = 2;
const MIN_ITERATION_MS = REPORTS_PER_ITERATION * REPORT_REFILL_MS;

/** The pause after a loop iteration that began at `startedAt`: at least `pauseMs`, and long
 * enough that the iteration lasts MIN_ITERATION_MS. */
export async function endIteration(startedAt: number, pauseMs: number): Promise<void> {
  await sleep(Math.max(pauseMs, startedAt + MIN_ITERATION_MS - Date.now()));
}

/** Our daemon's count of upstream changes that waited for the report pacing, from its status
 * file (`--status-file`); undefined for a proxy without one (C igmpproxy). */
function pacedChanges(proxy: ProxyHandle): number | undefined {
  const flag = proxy.command.indexOf('--status-file');
  const file = flag >= 0 ? proxy.command[flag + 1] : undefined;
  if (file === undefined) return undefined;
  const status = JSON.parse(readFileSync(file, 'utf8')) as { proxy: { upstreams: { pacedChanges: number }[] } };
  return status.proxy.upstreams.reduce((sum, upstream) => sum + upstream.pacedChanges, 0);
}

/** The index-th group (from 0) of a block: 239.<block>.0.1, 239.<block>.0.2, … 239.<block>.1.0, … */
export function benchGroup(block: number, index: number): string {
  const number = index + 1;
  return `239.${block}.${(number >> 8) & 0xff}.${number & 0xff}`;
}

function message(error: unknown): string {
  return errorMessage(error).split('\n')[0] as string;
}

interface SniffedBody {
  readonly type?: string;
  readonly group?: string;
  readonly records?: readonly { readonly group: string; readonly recordType: string }[];
}

/** A report of the TV itself, sniffed on its link, that joins `target` (v1/v2 report, or a v3 record). */
function isOwnJoin(event: LabEvent, target: string): boolean {
  const body = event.message as SniffedBody | undefined;
  if (event.event !== 'igmp' || event.dir !== 'out' || !body) return false;
  if (body.type === 'v2-report' || body.type === 'v1-report') return body.group === target;
  return (body.records ?? []).some((record) => record.group === target && /exclude|allow/.test(record.recordType));
}

/** The TV's own leave of `target` on its link (v2 leave, or a v3 TO_IN{} record). */
function isOwnLeave(event: LabEvent, target: string): boolean {
  const body = event.message as SniffedBody | undefined;
  if (event.event !== 'igmp' || event.dir !== 'out' || !body) return false;
  if (body.type === 'v2-leave') return body.group === target;
  return (body.records ?? []).some((record) => record.group === target && record.recordType === 'to-include');
}

class Deadline {
  private readonly at: number;
  constructor(at: number) {
    this.at = at;
  }
  get left(): number {
    return this.at - Date.now();
  }
  /** Throws when less than `needMs` is left, so a scenario is skipped rather than cut. */
  require(needMs: number, scenario: string): void {
    if (this.left < needMs) throw new Error(`${scenario}: skipped, the run's time limit is near`);
  }
}

export async function runProxySuite(
  candidate: ProxyCandidate,
  options: BenchOptions,
  deadlineAt: number,
  log: (line: string) => void,
): Promise<ProxyResult> {
  const result: ProxyResult = {
    id: candidate.id,
    label: candidate.label,
    command: candidate.command,
    available: candidate.available,
    metrics: {},
    failures: [],
    notes: [],
  };
  if (!candidate.available) {
    result.reason = candidate.reason ?? 'not available';
    return result;
  }
  const deadline = new Deadline(deadlineAt);
  const lab = await IptvLab.create({
    ispVersion: options.ispVersion,
    tvClients: 2,
    queryIntervalMs: 0,
    packetIntervalMs: 10,
  });
  try {
    const first = await startCandidate(lab, candidate, result);
    if (!first) return result;
    let proxy: ProxyHandle = first;
    await sleep(SETTLE_MS);
    const attempt = async (scenario: string, run: () => Promise<void>): Promise<void> => {
      if (!proxy.running) {
        result.failures.push(
          `${scenario}: skipped, the proxy is not running (exit ${proxy.exitCode ?? proxy.exitSignal})`,
        );
        return;
      }
      log(`  ${candidate.id}: ${scenario}`);
      try {
        await run();
      } catch (error) {
        result.failures.push(`${scenario}: ${message(error)}`);
      }
    };

    await attempt('idle', async () => {
      deadline.require(options.windowSeconds * 1000 + 5_000, 'idle');
      result.metrics.rssAnonKbIdle = proxy.rssAnonKb();
      result.notes.push(`RssAnon idle by kind of mapping (kB): ${smapsOf(proxy)}`);
      const before = proxy.cpuSeconds();
      await sleep(options.windowSeconds * 1000);
      result.metrics.cpuIdleSeconds = proxy.cpuSeconds() - before;
    });

    const [tv0, tv1] = [lab.tv(0), lab.tv(1)];
    await tv0.sniff();
    let functional = false;
    await attempt('probe', async () => {
      const probe = '239.255.0.1';
      const from = tv0.mark;
      await tv0.join(probe);
      try {
        await tv0.waitFirstPacket(probe, PROBE_LIMIT_MS, from);
      } catch {
        throw new Error(
          `no stream reached the TV within ${PROBE_LIMIT_MS / 1000} s of a join; proxy log tail: ${proxy.tail(5).replace(/\n/g, ' | ')}`,
        );
      }
      functional = true;
      await tv0.leave(probe);
      await sleep(300);
    });
    if (!functional) {
      result.available = false;
      result.reason = `not functional: ${result.failures.at(-1) ?? 'probe failed'}`;
      return result;
    }

    await attempt('joins', () => measureJoins(lab, tv0, options.joins, deadline, result));
    await attempt('zaps', () => measureZaps(tv0, options.zaps, deadline, result));
    await attempt('report pacing', async () => {
      await sleep(STATUS_REWRITE_INTERVAL_MS + 500);
      const paced = pacedChanges(proxy);
      if (paced !== undefined)
        result.notes.push(`upstream changes that waited for the report pacing (probe, joins, zaps): ${paced}`);
    });
    await attempt('many groups', () => measureManyGroups(lab, tv1, proxy, options, deadline, result));

    const stopped = await proxy.stop();
    result.notes.push(
      `SIGTERM (quickleave run): ${stopped.killed ? 'did not exit, killed' : `exit code ${stopped.code ?? stopped.signal}`}`,
    );
    let streaming: string[] = [];
    await lab
      .waitFor(
        async () => (streaming = (await lab.isp.status()).groups).length === 0,
        10_000,
        'the isp to stop every stream',
      )
      .catch(() =>
        result.notes.push(
          `after SIGTERM: ${streaming.length} upstream memberships not left within 10 s ` +
            `(e.g. ${streaming.slice(0, 3).join(', ')}); the provider keeps streaming them`,
        ),
      );

    try {
      proxy = await lab.startProxy({
        command: candidate.command,
        config: lab.proxyConfig({ quickleave: false }),
        startupGraceMs: 500,
      });
    } catch (error) {
      result.failures.push(`restart without quickleave: ${message(error)}`);
      return result;
    }
    await sleep(SETTLE_MS);
    await attempt('leave without quickleave', () => measureLeaveWithoutQuickleave(lab, tv0, deadline, result));
    const stoppedAgain = await proxy.stop();
    if (stoppedAgain.killed) result.notes.push('SIGTERM (no-quickleave run): did not exit, killed');
    return result;
  } finally {
    await lab.dispose();
  }
}

async function measureJoins(
  lab: IptvLab,
  tv: TvHandle,
  count: number,
  deadline: Deadline,
  result: ProxyResult,
): Promise<void> {
  const joinToFirst: number[] = [];
  const reportToFirst: number[] = [];
  const joinToUpstream: number[] = [];
  const quickleave: number[] = [];
  const quickleaveFromWire: number[] = [];
  let missedFirst = 0;
  let missedReport = 0;
  let missedUpstream = 0;
  let missedLeave = 0;
  const reportTypes = new Set<string>();
  for (let index = 0; index < count; index++) {
    deadline.require(FIRST_PACKET_LIMIT_MS + QUICKLEAVE_LIMIT_MS + 1_000, 'joins');
    const iterationStart = Date.now();
    const target = benchGroup(10, index);
    const ispFrom = lab.isp.mark;
    const tvFrom = tv.mark;
    const joinedAt = await tv.join(target);
    try {
      const first = await tv.waitFirstPacket(target, FIRST_PACKET_LIMIT_MS, tvFrom);
      joinToFirst.push(first.latencyMs);
      const own = await ownMessage(tv, (event) => isOwnJoin(event, target), tvFrom);
      if (own) {
        reportToFirst.push(first.t - own.t);
        reportTypes.add(String((own.message as { type: string }).type));
      } else {
        missedReport++;
      }
    } catch {
      missedFirst++;
    }
    const upstream =
      lab.isp.events('report', ispFrom, (event) => event.group === target && event.kind === 'join')[0] ??
      (await lab.isp
        .waitForReport(target, { from: ispFrom, kinds: ['join'], timeoutMs: 1_000 })
        .catch(() => undefined));
    if (upstream) joinToUpstream.push(upstream.t - joinedAt);
    else missedUpstream++;

    const leaveFrom = lab.isp.mark;
    const tvLeaveFrom = tv.mark;
    const left = await tv.leave(target);
    const upstreamLeave = await lab.isp
      .waitForReport(target, { from: leaveFrom, kinds: ['leave'], timeoutMs: QUICKLEAVE_LIMIT_MS })
      .catch(() => undefined);
    const ownLeave = await ownMessage(tv, (event) => isOwnLeave(event, target), tvLeaveFrom);
    if (upstreamLeave) {
      quickleave.push(upstreamLeave.t - left.t);
      if (ownLeave) quickleaveFromWire.push(upstreamLeave.t - ownLeave.t);
    } else {
      missedLeave++;
    }
    await endIteration(iterationStart, 50);
  }
  result.metrics.joinToFirstPacketMs = summarize(joinToFirst, missedFirst);
  result.metrics.reportToFirstPacketMs = summarize(reportToFirst, missedFirst + missedReport);
  result.metrics.joinToUpstreamReportMs = summarize(joinToUpstream, missedUpstream);
  result.metrics.quickleaveUpstreamLeaveMs = summarize(quickleave, missedLeave);
  result.metrics.quickleaveFromWireMs = summarize(quickleaveFromWire, count - quickleaveFromWire.length);
  result.notes.push(`TV reports seen on the wire during joins: ${[...reportTypes].join(', ') || 'none'}`);
}

/** The TV's own IGMP message matching `predicate` from line `from` on: the sniffer may log it a moment late. */
async function ownMessage(
  tv: TvHandle,
  predicate: (event: LabEvent) => boolean,
  from: number,
): Promise<LabEvent | undefined> {
  return (
    tv.program.events(predicate, from)[0] ??
    (await tv.program.waitForEvent(predicate, 1_000, from).catch(() => undefined))
  );
}

async function measureZaps(tv: TvHandle, count: number, deadline: Deadline, result: ProxyResult): Promise<void> {
  const zaps: number[] = [];
  let missed = 0;
  let current = benchGroup(20, 0);
  const from = tv.mark;
  await tv.join(current);
  await tv.waitFirstPacket(current, FIRST_PACKET_LIMIT_MS, from);
  for (let index = 1; index <= count; index++) {
    deadline.require(FIRST_PACKET_LIMIT_MS + 1_000, 'zaps');
    const iterationStart = Date.now();
    const next = benchGroup(20, index);
    const tvFrom = tv.mark;
    const leftAt = await tv.zap(current, next);
    current = next;
    try {
      const first = await tv.waitFirstPacket(next, FIRST_PACKET_LIMIT_MS, tvFrom);
      zaps.push(first.t - leftAt);
    } catch {
      missed++;
    }
    await endIteration(iterationStart, 100);
  }
  await tv.leave(current);
  result.metrics.zapMs = summarize(zaps, missed);
}

async function measureManyGroups(
  lab: IptvLab,
  tv: TvHandle,
  proxy: ProxyHandle,
  options: BenchOptions,
  deadline: Deadline,
  result: ProxyResult,
): Promise<void> {
  deadline.require(MANY_GROUPS_ARRIVAL_LIMIT_MS + options.windowSeconds * 1000 + 10_000, 'many groups');
  const groups = Array.from({ length: options.manyGroups }, (_, index) => benchGroup(30, index));
  const intervalMs = Math.max(10, Math.ceil((options.manyGroups * 1000) / MANY_GROUPS_PPS));
  await lab.isp.setPacketInterval(intervalMs);
  const logFrom = proxy.log.length;
  try {
    const cpuBefore = proxy.cpuSeconds();
    const started = Date.now();
    const { joined, failures } = await tv.joinMany(groups);
    const tvJoined = Object.keys(joined).length;
    if (Object.keys(failures).length > 0)
      result.notes.push(`many groups: the TV could not join ${Object.keys(failures).length} groups`);
    let receiving = 0;
    await lab
      .waitFor(
        async () => {
          const stats = await tv.stats();
          receiving = groups.filter((name) => stats.groups[name]?.firstAt !== undefined).length;
          return receiving === tvJoined || !proxy.running;
        },
        MANY_GROUPS_ARRIVAL_LIMIT_MS,
        'every stream at the TV',
        250,
      )
      .catch(() => undefined);
    const arrivalSeconds = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, options.windowSeconds * 1000));
    const running = proxy.running;
    if (running) {
      result.metrics.cpuManyGroupsSeconds = proxy.cpuSeconds() - cpuBefore;
      result.metrics.rssAnonKbManyGroups = proxy.rssAnonKb();
      result.notes.push(`RssAnon at ${options.manyGroups} groups by kind of mapping (kB): ${smapsOf(proxy)}`);
    }
    result.metrics.manyGroupsWindowSeconds = (Date.now() - started) / 1000;
    const stats = await tv.stats();
    const upstream = new Set((await lab.isp.status()).groups);
    const warnings = proxy.log.slice(logFrom).filter((line) => JOIN_WARNING.test(line));
    result.metrics.manyGroups = {
      requested: groups.length,
      tvJoined,
      upstreamJoined: groups.filter((name) => upstream.has(name)).length,
      tvReceiving: groups.filter((name) => stats.groups[name]?.firstAt !== undefined).length,
      proxyRunningAfter: running,
      proxyJoinWarnings: warnings.length,
      ...(warnings[0] ? { exampleWarning: warnings[0].slice(0, 200) } : {}),
    };
    result.notes.push(
      `many groups: ${receiving}/${tvJoined} streams at the TV after ${arrivalSeconds.toFixed(1)} s ` +
        `(isp: 1 packet / ${intervalMs} ms per group)`,
    );
    if (warnings.length > 0)
      result.notes.push(
        `many groups: ${warnings.length} proxy log lines about failed joins, e.g. "${warnings[0]?.slice(0, 160)}"`,
      );
  } finally {
    await tv.leaveAll().catch(() => undefined);
    await lab.isp.setPacketInterval(10).catch(() => undefined);
  }
}

async function measureLeaveWithoutQuickleave(
  lab: IptvLab,
  tv: TvHandle,
  deadline: Deadline,
  result: ProxyResult,
): Promise<void> {
  deadline.require(NO_QUICKLEAVE_LIMIT_MS + 10_000, 'leave without quickleave');
  const groups = Array.from({ length: LEAVES_WITHOUT_QUICKLEAVE }, (_, index) => benchGroup(40, index));
  for (const target of groups) {
    const from = tv.mark;
    await tv.join(target);
    await tv.waitFirstPacket(target, FIRST_PACKET_LIMIT_MS, from);
  }
  // Leave all at once and wait for all upstream leaves in parallel: one time limit, not three.
  const ispFrom = lab.isp.mark;
  const leaves = await Promise.all(groups.map(async (target) => ({ target, t: (await tv.leave(target)).t })));
  const outcomes = await Promise.all(
    leaves.map(async ({ target, t }) => {
      const report = await lab.isp
        .waitForReport(target, { from: ispFrom, kinds: ['leave'], timeoutMs: NO_QUICKLEAVE_LIMIT_MS })
        .catch(() => undefined);
      return report ? report.t - t : undefined;
    }),
  );
  const samples = outcomes.filter((value): value is number => value !== undefined);
  result.metrics.leaveUpstreamWithoutQuickleaveMs = summarize(samples, outcomes.length - samples.length);
  if (samples.length < outcomes.length) {
    result.notes.push(
      `no quickleave: ${outcomes.length - samples.length} of ${outcomes.length} leaves never reached the isp within ` +
        `${NO_QUICKLEAVE_LIMIT_MS / 1000} s`,
    );
  }
}

/** Where the proxy's RssAnon is (smaps-kinds.ts), or why it cannot be read. */
function smapsOf(proxy: ProxyHandle): string {
  try {
    return anonymousByKind(proxy.pid);
  } catch (error) {
    return `not readable: ${errorMessage(error)}`;
  }
}
