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
  'Memory: the daemon\'s own code (config, core, codec, executor, status) built into a single binary with the ' +
  'daemon\'s baked-in options, on a stand-in shim instead of a kernel (scripts/bench/memory-probe.ts); one TV joins ' +
  'the groups through IGMPv3 reports and each group gets its upcall and route. RssAnon 10 s after the joins (steady: past the paced reports and the memory release once quiet) ' +
  'and after a forced full GC. The lab rows above are the real binary on a real kernel.';

/** A command line for people: paths inside the repository relative to it. */
function shown(command: readonly string[]): string {
  return command.map((arg) => (arg.startsWith(`${repositoryRoot}/`) ? path.relative(repositoryRoot, arg) : arg)).join(' ');
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
    console.log(`${id}: ${candidate.available ? `${candidate.label}: ${shown(candidate.command)} CONFIG` : `not available (${candidate.reason})`}`);
    const result = await runProxySuite(candidate, options, deadlineAt, (line) => console.log(line));
    if (!result.available) console.log(`${id}: not available (${result.reason})`);
    results.push(result);
  }
  // In the test VM, vm.ts names the kernel and says whether it is emulated.
  return { results, kernel: process.env.IGMPPROXY_TEST_KERNEL ?? `${os.release()} on this machine (native)`, failure: '' };
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
    const guest = JSON.parse(readFileSync(path.join(shareDir, 'bench-results.json'), 'utf8')) as
      { proxies: ProxyResult[]; machine: { kernel: string } };
    return { results: guest.proxies, kernel: guest.machine.kernel, failure: vm.status === null ? vm.failure : '' };
  } catch {
    return { results: [], kernel: describeVm(vm), failure: vm.failure || `the lab in the VM wrote no results (exit status ${vm.status})` };
  }
}

async function main(options: BenchOptions): Promise<number> {
  const runLab = options.only === undefined || options.only === 'lab';
  const inVm = runLab && !hostCanRouteMulticast();
  const support = checkNetnsSupport(LAB_PREFIX);
  if (runLab && !inVm && !support.available) {
    console.error(`bench: cannot build the lab: ${support.reason}`);
    return 1;
  }
  // Start-up first, always on this machine (a one-shot command needs no multicast routing,
  // and emulation would only measure the emulator): the lab leaves nothing behind, but
  // this way it never runs beside a daemon.
  const startup: StartupRow[] =
    (options.only === undefined || options.only === 'startup') && options.startupRuns > 0 ? await measureStartup(options.startupRuns, (line) => console.log(line)) : [];
  // The memory table needs no multicast routing either: natively, before the lab.
  const memory: MemoryResult | undefined = options.only === undefined || options.only === 'memory'
    ? await measureMemory((line) => console.log(line)) : undefined;
  const lab: LabRun = !runLab ? { results: [], kernel: '', failure: '' }
    : inVm ? await runLabInVm(options) : await runLabHere(options);
  const results = lab.results;
  const c = results.find((result) => result.id === 'c');
  const ours = results.find((result) => result.id === 'ours');
  const headers = { c: c?.available ? c.label : 'C igmpproxy', ours: ours?.available ? ours.label.replace(/ \(.*\)$/, '') : 'ours' };
  const rows = compare(c, ours);

  const lines: string[] = [''];
  if (runLab) lines.push(`Lab kernel: ${lab.kernel}; both proxies ran on it in this run.`, renderText(rows, headers), '');
  if (lab.failure !== '') lines.push(`bench: FAILED the lab: ${lab.failure}`);
  if (startup.length > 0) lines.push(`Start-up kernel: ${os.release()} on this machine (native).`, renderStartup(startup, false), STARTUP_METHOD, '');
  if (memory !== undefined) lines.push(`Memory per group, on ${os.release()} on this machine (native):`, renderMemory(memory, false), MEMORY_METHOD, '');
  for (const result of results) {
    if (!result.available) lines.push(`${result.id}: not available (${result.reason})`);
    for (const failure of result.failures) lines.push(`${result.id}: FAILED ${failure}`);
    for (const note of result.notes) lines.push(`${result.id}: ${note}`);
  }
  if (runLab) lines.push('', ...METHOD);
  console.log(lines.join('\n'));

  mkdirSync(options.outDir, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    machine: { kernel: runLab ? lab.kernel : `${os.release()} on this machine (native)`, cpus: os.cpus().length, node: process.version,
      startupKernel: startup.length > 0 ? `${os.release()} on this machine (native)` : undefined },
    options: { ...options, outDir: undefined },
    method: METHOD.join(' '),
    proxies: results,
    comparison: rows,
    startup,
    memory,
  };
  const jsonPath = path.join(options.outDir, 'bench-results.json');
  const markdownPath = path.join(options.outDir, 'bench-results.md');
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  const markdown = [
    `# igmpproxy benchmark, ${json.date}`, '',
    `Lab kernel ${json.machine.kernel}, ${json.machine.cpus} CPUs. ${options.joins} joins, ${options.zaps} zaps, ` +
      `${options.manyGroups} groups, ${options.windowSeconds} s windows, provider querier IGMPv${options.ispVersion}.`, '',
    ...results.map((result) => `- **${result.id}**: ${result.available ? `${result.label}: \`${shown(result.command)} CONFIG\`` : `not available (${result.reason})`}`),
    ...(runLab ? ['', renderMarkdown(rows, headers)] : []),
    ...(startup.length > 0 ? ['', `Start-up on ${json.machine.startupKernel}:`, '', renderStartup(startup, true), '', STARTUP_METHOD] : []),
    ...(memory !== undefined ? ['', `Memory per group on ${os.release()} (native):`, '', renderMemory(memory, true), '', MEMORY_METHOD] : []), '',
    ...results.flatMap((result) => [...result.failures.map((failure) => `- ${result.id}: FAILED ${failure}`),
      ...result.notes.map((note) => `- ${result.id}: ${note}`)]),
    '', METHOD.join(' '), '',
  ].join('\n');
  writeFileSync(markdownPath, markdown);
  console.log(`\nwrote ${jsonPath} and ${markdownPath}`);
  return lab.failure !== '' || results.some((result) => result.failures.length > 0) ? 2 : 0;
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
