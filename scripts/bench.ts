// `npm run bench`: the same IPTV scenarios against Debian's C igmpproxy and ours, each in a
// fresh network-namespace lab (scripts/lab/), one after the other; prints the comparison
// and writes bench-results.json and bench-results.md. See scripts/bench/ and --help.
// A proxy that cannot be run or does not forward is reported as "not available (reason)":
// no number is ever made up.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkNetnsSupport } from './lab/netns.ts';
import { LAB_PREFIX, repositoryRoot } from './lab/iptv-lab.ts';
import { resolveCandidate } from './bench/candidates.ts';
import { parseBenchArgs, USAGE } from './bench/options.ts';
import type { BenchOptions } from './bench/options.ts';
import { compare, renderMarkdown, renderText } from './bench/report.ts';
import type { ProxyResult } from './bench/results.ts';
import { runProxySuite } from './bench/scenarios.ts';
import { measureStartup, renderStartup, type StartupRow } from './bench/startup.ts';
import { measureMemory, renderMemory, type MemoryResult } from './bench/memory.ts';
import { runSoak, SOAK_PREFIX } from './bench/soak.ts';
import { renderSoak, type SoakResult } from './bench/soak-plan.ts';
import { FLOOD_PREFIX, runFloodBench } from './bench/flood.ts';
import { renderFlood, type FloodBenchResult } from './bench/flood-plan.ts';
import { hostCanRouteMulticast } from './vm/kernel.ts';
import { describeVm, GUEST_SHARE, runInVm } from './vm/vm.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

const METHOD = [
  'Timing: lab clock (CLOCK_MONOTONIC through process.hrtime), read inside the lab programs where the event happens',
  "(the TV's join call, the TV's report leaving its interface, the packet's arrival, the isp receiving a report);",
  'every process shares that clock (checked at start), so no pipe latency enters the figures. Latencies include the',
  "lab's own overhead (Node event loops of the isp and TV programs, veth and bridge) equally for both proxies.",
  'Proxies run one after the other, each in a fresh lab, with the same flags, on a shared machine: read the ratios.',
];

const STARTUP_METHOD =
  'Start-up: wall time from spawn to exit as seen by this script (spawnSync, round-robin); the /bin/true row is the part ' +
  'every figure carries for spawning. The floor is a Node SEA built here from the same stripped Node with the same baked-in ' +
  'options whose script writes one line and exits: no Node single binary starts faster on this machine.';

const MEMORY_METHOD =
  "Memory: the daemon's own code (config, core, codec, executor, status) with the Node modules its start-up loads and " +
  "the CLI code it carries unrun, built into a single binary with the daemon's baked-in options, on a stand-in shim instead of a kernel (scripts/bench/memory-probe.ts); one TV joins " +
  'the groups through IGMPv3 reports and each group gets its upcall and route. RssAnon 10 s after the joins (steady: past the paced reports and the memory release once quiet) ' +
  'and after a forced full GC. The lab rows above are the real binary on a real kernel.';

const SOAK_METHOD =
  'Soak: one proxy in a fresh IPTV lab with three TVs and the provider as an RFC querier (general query every 125 s), ' +
  'quickleave on. tv0 holds one channel the whole time; tv1 and tv2 zap once a second (leave A + join B), half a second ' +
  'apart, each through its own ring of 8 channels. Each channel: one 64-byte packet every 10 ms. RssAnon from ' +
  '/proc/PID/status and CPU (utime+stime) from /proc/PID/stat of the proxy at start, every 5 minutes and at the end; ' +
  "load 1 min is the lab machine's. Gap: the longest time between two packets of the held channel (lab clock, in the TV), " +
  'counting a silence still going on at the end. A zap fails when its first packet has not come within 5 s.';

const FLOOD_METHOD =
  'Flood: each proxy in a fresh IPTV lab with two TVs, quickleave on, the provider streaming each joined group once a ' +
  'second (its first packet at once on the join). The other TV (tv0) joins fresh channels (join -> first packet, lab ' +
  'clock in the TV) and zaps (leave A + join B -> first packet of B), first unloaded, then from 3 s into a 60 s flood ' +
  'from tv1, a hostile LAN host (scripts/lab/igmp-flood.c, sendmmsg): valid IGMPv3 reports with TTL 1 and Router ' +
  'Alert, joins of 100,000 distinct groups (then refreshes), every 100th an ALLOW with 1,000 sources, 10,000 a second ' +
  "natively and 2,000 in the TCG-emulated VM (where the lab runs ~8x slower: the hostile-LAN test's rates). A change " +
  'whose first packet has not come within 5 s is missed; a missed one fails the verdict. RssAnon (/proc/PID/status) ' +
  "sampled every 250 ms from the flood's start to its end, CPU (utime+stime) over the same time. The exit status " +
  "counts our daemon's verdicts only: C igmpproxy has no limits and is the reference, not the subject.";

/** A command line for people: paths inside the repository relative to it. */
function shown(command: readonly string[]): string {
  return command
    .map((arg) => (arg.startsWith(`${repositoryRoot}/`) ? path.relative(repositoryRoot, arg) : arg))
    .join(' ');
}

/** The lab's results and the kernel they came from. */
interface LabRun {
  readonly results: ProxyResult[];
  readonly kernel: string;
  /** Why the lab did not run to the end (empty when it did). */
  readonly failure: string;
}

/** Both proxies, one after the other, in fresh labs on this machine's kernel. */
async function runLabHere(options: BenchOptions): Promise<LabRun> {
  const deadlineAt = Date.now() + options.timeLimitSeconds * 1000;
  const results: ProxyResult[] = [];
  for (const id of options.proxies) {
    const candidate = resolveCandidate(id, options.verboseProxy);
    console.log(
      `${id}: ${candidate.available ? `${candidate.label}: ${shown(candidate.command)} CONFIG` : `not available (${candidate.reason})`}`,
    );
    const result = await runProxySuite(candidate, options, deadlineAt, (line) => console.log(line));
    if (!result.available) console.log(`${id}: not available (${result.reason})`);
    results.push(result);
  }
  // In the test VM, vm.ts names the kernel and says whether it is emulated.
  return {
    results,
    kernel: process.env.IGMPPROXY_TEST_KERNEL ?? `${os.release()} on this machine (native)`,
    failure: '',
  };
}

/**
 * This machine's kernel cannot route multicast: the same lab runs in the test VM, C
 * igmpproxy and ours still one after the other on the same (guest) kernel; this process
 * reads back the guest's bench-results.json.
 */
async function runLabInVm(options: BenchOptions): Promise<LabRun> {
  const shareDir = path.join(repositoryRoot, '.cache', 'bench-vm');
  const args = [...process.argv.slice(2), '--only', 'lab', '--out', GUEST_SHARE];
  console.log('bench: this kernel cannot route multicast: the lab runs in the test VM (scripts/vm/)');
  const vm = await runInVm({
    argv: [process.execPath, path.join(repositoryRoot, 'scripts', 'bench.ts'), ...args],
    cwd: repositoryRoot,
    shareDir,
    timeoutMs: (options.timeLimitSeconds + 300) * 1000,
  });
  try {
    const guest = JSON.parse(readFileSync(path.join(shareDir, 'bench-results.json'), 'utf8')) as {
      proxies: ProxyResult[];
      machine: { kernel: string };
    };
    return { results: guest.proxies, kernel: guest.machine.kernel, failure: vm.status === null ? vm.failure : '' };
  } catch {
    return {
      results: [],
      kernel: describeVm(vm),
      failure: vm.failure || `the lab in the VM wrote no results (exit status ${vm.status})`,
    };
  }
}

/** What the soak produced, where, and how loaded the machine running the VM was meanwhile. */
interface SoakRun {
  readonly results: SoakResult[];
  readonly kernel: string;
  readonly failure: string;
  /** 1-minute load average of the machine that ran the VM, sampled every minute: min, mean, max. */
  readonly hostLoad?: { readonly min: number; readonly mean: number; readonly max: number; readonly samples: number };
}

async function runSoakHere(options: BenchOptions, minutes: number): Promise<SoakRun> {
  const results: SoakResult[] = [];
  for (const id of options.proxies) {
    const candidate = resolveCandidate(id, options.verboseProxy);
    console.log(
      `${id}: ${candidate.available ? `${candidate.label}: ${shown(candidate.command)} CONFIG` : `not available (${candidate.reason})`}`,
    );
    results.push(await runSoak(candidate, minutes, options.ispVersion, (line) => console.log(line)));
  }
  return {
    results,
    kernel: process.env.IGMPPROXY_TEST_KERNEL ?? `${os.release()} on this machine (native)`,
    failure: '',
  };
}

/** The soak in the test VM (this kernel cannot route multicast); the guest writes its results to the share. */
async function runSoakInVm(options: BenchOptions): Promise<SoakRun> {
  const shareDir = path.join(repositoryRoot, '.cache', 'bench-vm');
  console.log('bench: this kernel cannot route multicast: the soak runs in the test VM (scripts/vm/)');
  const loads: number[] = [];
  const sampleLoad = (): number => loads.push(os.loadavg()[0] as number);
  sampleLoad();
  const timer = setInterval(sampleLoad, 60_000);
  let vm: Awaited<ReturnType<typeof runInVm>>;
  try {
    vm = await runInVm({
      argv: [
        process.execPath,
        path.join(repositoryRoot, 'scripts', 'bench.ts'),
        ...process.argv.slice(2),
        '--out',
        GUEST_SHARE,
      ],
      cwd: repositoryRoot,
      shareDir,
      timeoutMs: (options.timeLimitSeconds + 300) * 1000,
    });
  } finally {
    clearInterval(timer);
  }
  sampleLoad();
  const hostLoad = {
    min: Math.min(...loads),
    max: Math.max(...loads),
    mean: loads.reduce((a, b) => a + b, 0) / loads.length,
    samples: loads.length,
  };
  try {
    const guest = JSON.parse(readFileSync(path.join(shareDir, 'bench-results.json'), 'utf8')) as {
      soak?: SoakResult[];
      machine: { kernel: string };
    };
    if (!Array.isArray(guest.soak)) throw new Error('no soak results');
    return {
      results: guest.soak,
      kernel: guest.machine.kernel,
      failure: vm.status === null ? vm.failure : '',
      hostLoad,
    };
  } catch {
    return {
      results: [],
      kernel: describeVm(vm),
      failure: vm.failure || `the soak in the VM wrote no results (exit status ${vm.status})`,
      hostLoad,
    };
  }
}

/** The 1-minute load average of this machine, sampled every minute while `run` goes on. */
async function withHostLoad<T>(
  run: () => Promise<T>,
): Promise<{ value: T; hostLoad: NonNullable<SoakRun['hostLoad']> }> {
  const loads: number[] = [];
  const sampleLoad = (): number => loads.push(os.loadavg()[0] as number);
  sampleLoad();
  const timer = setInterval(sampleLoad, 60_000);
  let value: T;
  try {
    value = await run();
  } finally {
    clearInterval(timer);
  }
  sampleLoad();
  return {
    value,
    hostLoad: {
      min: Math.min(...loads),
      max: Math.max(...loads),
      mean: loads.reduce((a, b) => a + b, 0) / loads.length,
      samples: loads.length,
    },
  };
}

/** The flood section's results, where it ran, and how loaded the machine was meanwhile. */
interface FloodRun {
  readonly results: FloodBenchResult[];
  readonly kernel: string;
  readonly failure: string;
  readonly hostLoad: NonNullable<SoakRun['hostLoad']>;
}

async function runFloodHere(options: BenchOptions): Promise<FloodRun> {
  const { value: results, hostLoad } = await withHostLoad(async () => {
    const results: FloodBenchResult[] = [];
    for (const id of options.proxies) {
      const candidate = resolveCandidate(id, options.verboseProxy);
      console.log(
        `${id}: ${candidate.available ? `${candidate.label}: ${shown(candidate.command)} CONFIG` : `not available (${candidate.reason})`}`,
      );
      results.push(await runFloodBench(candidate, options, (line) => console.log(line)));
    }
    return results;
  });
  return {
    results,
    kernel: process.env.IGMPPROXY_TEST_KERNEL ?? `${os.release()} on this machine (native)`,
    failure: '',
    hostLoad,
  };
}

/** The flood in the test VM (this kernel cannot route multicast); the guest writes its results to the share. */
async function runFloodInVm(options: BenchOptions): Promise<FloodRun> {
  const shareDir = path.join(repositoryRoot, '.cache', 'bench-vm');
  console.log('bench: this kernel cannot route multicast: the flood runs in the test VM (scripts/vm/)');
  const { value: vm, hostLoad } = await withHostLoad(() =>
    runInVm({
      argv: [
        process.execPath,
        path.join(repositoryRoot, 'scripts', 'bench.ts'),
        ...process.argv.slice(2),
        '--only',
        'flood',
        '--out',
        GUEST_SHARE,
      ],
      cwd: repositoryRoot,
      shareDir,
      timeoutMs: (options.timeLimitSeconds + 300) * 1000,
    }),
  );
  try {
    const guest = JSON.parse(readFileSync(path.join(shareDir, 'bench-results.json'), 'utf8')) as {
      flood?: FloodBenchResult[];
      floodMachine?: { kernel: string };
    };
    if (!Array.isArray(guest.flood) || guest.floodMachine === undefined) throw new Error('no flood results');
    return {
      results: guest.flood,
      kernel: guest.floodMachine.kernel,
      failure: vm.status === null ? vm.failure : '',
      hostLoad,
    };
  } catch {
    return {
      results: [],
      kernel: describeVm(vm),
      failure: vm.failure || `the flood in the VM wrote no results (exit status ${vm.status})`,
      hostLoad,
    };
  }
}

function describeHostLoad(hostLoad: NonNullable<SoakRun['hostLoad']>, inVm: boolean): string {
  return (
    `Load of the machine ${inVm ? 'running the VM' : 'running the lab'} (${os.cpus().length} CPUs, 1-minute average, ` +
    `sampled every minute): min ${hostLoad.min.toFixed(2)}, mean ${hostLoad.mean.toFixed(2)}, max ${hostLoad.max.toFixed(2)}.`
  );
}

/** Our daemon met every flood verdict (C igmpproxy is reported, not judged). */
function floodMet(run: FloodRun): boolean {
  return (
    run.failure === '' &&
    run.results.every(
      (result) =>
        result.id !== 'ours' ||
        !result.available ||
        (result.failures.length === 0 && result.verdicts.every((verdict) => verdict.verdict === 'met')),
    )
  );
}

function floodMarkdown(flood: FloodRun, inVm: boolean): string[] {
  return [
    '## Flood',
    '',
    `Lab kernel ${flood.kernel}.`,
    '',
    describeHostLoad(flood.hostLoad, inVm),
    ...(flood.failure === '' ? [] : ['', `FAILED the flood: ${flood.failure}`]),
    ...flood.results.flatMap((result) => [
      '',
      `### ${result.label}`,
      '',
      renderFlood(result, true),
      ...(result.failures.length + result.notes.length > 0 ? [''] : []),
      ...result.failures.map((failure) => `- FAILED ${failure}`),
      ...result.notes.map((note) => `- ${note}`),
    ]),
    '',
    FLOOD_METHOD,
    '',
  ];
}

async function soakMain(options: BenchOptions, minutes: number): Promise<number> {
  const inVm = !hostCanRouteMulticast();
  if (!inVm) {
    const support = checkNetnsSupport(SOAK_PREFIX);
    if (!support.available) {
      console.error(`bench: cannot build the lab: ${support.reason}`);
      return 1;
    }
  }
  const run = inVm ? await runSoakInVm(options) : await runSoakHere(options, minutes);
  const hostLoad =
    run.hostLoad === undefined
      ? ''
      : `Load of the machine running the VM (${os.cpus().length} CPUs, 1-minute average, ` +
        `sampled every minute): min ${run.hostLoad.min.toFixed(2)}, mean ${run.hostLoad.mean.toFixed(2)}, max ${run.hostLoad.max.toFixed(2)}.`;
  const lines: string[] = ['', `Soak of ${minutes} min, lab kernel: ${run.kernel}.`];
  if (hostLoad !== '') lines.push(hostLoad);
  if (run.failure !== '') lines.push(`bench: FAILED the soak: ${run.failure}`);
  for (const result of run.results) {
    lines.push('', `${result.id}: ${result.label}`, renderSoak(result, false));
    for (const failure of result.failures) lines.push(`${result.id}: FAILED ${failure}`);
    for (const note of result.notes) lines.push(`${result.id}: ${note}`);
  }
  lines.push('', SOAK_METHOD);
  console.log(lines.join('\n'));

  mkdirSync(options.outDir, { recursive: true });
  const date = new Date().toISOString();
  const json = {
    date,
    machine: {
      kernel: run.kernel,
      cpus: os.cpus().length,
      node: process.version,
      ...(run.hostLoad ? { hostLoad: run.hostLoad } : {}),
    },
    options: { ...options, outDir: undefined },
    method: SOAK_METHOD,
    soak: run.results,
    ...(run.failure === '' ? {} : { failure: run.failure }),
  };
  const jsonPath = path.join(options.outDir, 'bench-results.json');
  const markdownPath = path.join(options.outDir, 'bench-results.md');
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  const markdown = [
    `# igmpproxy soak, ${date}`,
    '',
    `\`npm run bench -- --soak ${minutes}\`: lab kernel ${run.kernel}, ${os.cpus().length} CPUs, provider querier IGMPv${options.ispVersion}.`,
    ...(hostLoad === '' ? [] : ['', hostLoad]),
    ...(run.failure === '' ? [] : ['', `FAILED the soak: ${run.failure}`]),
    ...run.results.flatMap((result) => [
      '',
      `## ${result.label}`,
      '',
      ...(result.available ? [`\`${shown(result.command)} CONFIG\``, ''] : []),
      renderSoak(result, true),
      ...(result.failures.length + result.notes.length > 0 ? [''] : []),
      ...result.failures.map((failure) => `- FAILED ${failure}`),
      ...result.notes.map((note) => `- ${note}`),
    ]),
    '',
    SOAK_METHOD,
    '',
  ].join('\n');
  writeFileSync(markdownPath, markdown);
  console.log(`\nwrote ${jsonPath} and ${markdownPath}`);
  const allMet =
    run.results.some((result) => result.available) &&
    run.results.every(
      (result) =>
        !result.available ||
        (result.failures.length === 0 && result.verdicts.every((verdict) => verdict.verdict === 'met')),
    );
  return run.failure === '' && allMet ? 0 : 2;
}

async function main(options: BenchOptions): Promise<number> {
  if (options.soakMinutes !== undefined) return soakMain(options, options.soakMinutes);
  const runLab = options.only === undefined || options.only === 'lab';
  const runFlood = options.only === undefined || options.only === 'flood';
  const canRoute = hostCanRouteMulticast();
  const inVm = runLab && !canRoute;
  for (const [wanted, prefix] of [
    [runLab, LAB_PREFIX],
    [runFlood, FLOOD_PREFIX],
  ] as const) {
    const support = checkNetnsSupport(prefix);
    if (wanted && canRoute && !support.available) {
      console.error(`bench: cannot build the lab: ${support.reason}`);
      return 1;
    }
  }
  // Start-up first, always on this machine (a one-shot command needs no multicast routing,
  // and emulation would only measure the emulator): the lab leaves nothing behind, but
  // this way it never runs beside a daemon.
  const startup: StartupRow[] =
    (options.only === undefined || options.only === 'startup') && options.startupRuns > 0
      ? await measureStartup(options.startupRuns, (line) => console.log(line))
      : [];
  // The memory table needs no multicast routing either: natively, before the lab.
  const memory: MemoryResult | undefined =
    options.only === undefined || options.only === 'memory'
      ? await measureMemory((line) => console.log(line))
      : undefined;
  const lab: LabRun = !runLab
    ? { results: [], kernel: '', failure: '' }
    : inVm
      ? await runLabInVm(options)
      : await runLabHere(options);
  // The flood last: the other sections never run beside a flooded daemon.
  const flood: FloodRun | undefined = !runFlood
    ? undefined
    : canRoute
      ? await runFloodHere(options)
      : await runFloodInVm(options);
  const results = lab.results;
  const c = results.find((result) => result.id === 'c');
  const ours = results.find((result) => result.id === 'ours');
  const headers = {
    c: c?.available ? c.label : 'C igmpproxy',
    ours: ours?.available ? ours.label.replace(/ \(.*\)$/, '') : 'ours',
  };
  const rows = compare(c, ours);

  const lines: string[] = [''];
  if (runLab)
    lines.push(`Lab kernel: ${lab.kernel}; both proxies ran on it in this run.`, renderText(rows, headers), '');
  if (lab.failure !== '') lines.push(`bench: FAILED the lab: ${lab.failure}`);
  if (startup.length > 0)
    lines.push(
      `Start-up kernel: ${os.release()} on this machine (native).`,
      renderStartup(startup, false),
      STARTUP_METHOD,
      '',
    );
  if (memory !== undefined)
    lines.push(
      `Memory per group, on ${os.release()} on this machine (native):`,
      renderMemory(memory, false),
      MEMORY_METHOD,
      '',
    );
  for (const result of results) {
    if (!result.available) lines.push(`${result.id}: not available (${result.reason})`);
    for (const failure of result.failures) lines.push(`${result.id}: FAILED ${failure}`);
    for (const note of result.notes) lines.push(`${result.id}: ${note}`);
  }
  if (runLab) lines.push('', ...METHOD);
  if (flood !== undefined) {
    lines.push('', `Flood, lab kernel: ${flood.kernel}.`, describeHostLoad(flood.hostLoad, !canRoute));
    if (flood.failure !== '') lines.push(`bench: FAILED the flood: ${flood.failure}`);
    for (const result of flood.results) {
      lines.push('', `${result.id}: ${result.label}`, renderFlood(result, false));
      for (const failure of result.failures) lines.push(`${result.id}: FAILED ${failure}`);
      for (const note of result.notes) lines.push(`${result.id}: ${note}`);
    }
    lines.push('', FLOOD_METHOD);
  }
  console.log(lines.join('\n'));

  mkdirSync(options.outDir, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    machine: {
      kernel: runLab ? lab.kernel : `${os.release()} on this machine (native)`,
      cpus: os.cpus().length,
      node: process.version,
      startupKernel: startup.length > 0 ? `${os.release()} on this machine (native)` : undefined,
    },
    options: { ...options, outDir: undefined },
    method: METHOD.join(' '),
    proxies: results,
    comparison: rows,
    startup,
    memory,
    ...(flood === undefined
      ? {}
      : {
          flood: flood.results,
          floodMachine: { kernel: flood.kernel, hostLoad: flood.hostLoad },
          floodMethod: FLOOD_METHOD,
          ...(flood.failure === '' ? {} : { floodFailure: flood.failure }),
        }),
  };
  const jsonPath = path.join(options.outDir, 'bench-results.json');
  const markdownPath = path.join(options.outDir, 'bench-results.md');
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  const markdown = [
    `# igmpproxy benchmark, ${json.date}`,
    '',
    runLab
      ? `Lab kernel ${json.machine.kernel}, ${json.machine.cpus} CPUs. ${options.joins} joins, ${options.zaps} zaps, ` +
        `${options.manyGroups} groups, ${options.windowSeconds} s windows, provider querier IGMPv${options.ispVersion}.`
      : `${json.machine.cpus} CPUs; only ${options.only ?? 'some parts'} (--only).`,
    '',
    ...results.map(
      (result) =>
        `- **${result.id}**: ${result.available ? `${result.label}: \`${shown(result.command)} CONFIG\`` : `not available (${result.reason})`}`,
    ),
    ...(runLab ? ['', renderMarkdown(rows, headers)] : []),
    ...(startup.length > 0
      ? ['', `Start-up on ${json.machine.startupKernel}:`, '', renderStartup(startup, true), '', STARTUP_METHOD]
      : []),
    ...(memory !== undefined
      ? ['', `Memory per group on ${os.release()} (native):`, '', renderMemory(memory, true), '', MEMORY_METHOD]
      : []),
    '',
    ...results.flatMap((result) => [
      ...result.failures.map((failure) => `- ${result.id}: FAILED ${failure}`),
      ...result.notes.map((note) => `- ${result.id}: ${note}`),
    ]),
    '',
    ...(runLab ? [METHOD.join(' '), ''] : []),
    ...(flood === undefined ? [] : floodMarkdown(flood, !canRoute)),
  ].join('\n');
  writeFileSync(markdownPath, markdown);
  console.log(`\nwrote ${jsonPath} and ${markdownPath}`);
  return lab.failure !== '' ||
    results.some((result) => result.failures.length > 0) ||
    (flood !== undefined && !floodMet(flood))
    ? 2
    : 0;
}

let options: BenchOptions;
try {
  options = parseBenchArgs(process.argv.slice(2), process.cwd());
} catch (error) {
  console.error(`bench: ${errorMessage(error)}\n${USAGE}`);
  process.exit(1);
}
if (options.help) {
  console.log(USAGE);
} else {
  process.exitCode = await main(options);
}
