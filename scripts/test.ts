// The whole test suite: `npm test` (and `bash scripts/dev.sh test`, which installs first).
// Suites that need multicast routing (vitest project "multicast-routing") run on this
// machine when its kernel can route multicast, and otherwise in the test VM (scripts/vm/),
// whose kernel can; all others run here. Prints each phase's time and one closing line,
// "Tests: N passed, N failed, N skipped", over both runs.
//   node scripts/node24.mjs scripts/test.ts [VITEST ARGS...]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { countsOf, failuresOf, type Counts } from './test-results.ts';
import { hostCanRouteMulticast } from './vm/kernel.ts';
import { describeVm, GUEST_SHARE, runInVm } from './vm/vm.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

const MACHINE_PROJECT = 'machine';
const ROUTING_PROJECT = 'multicast-routing';
const VM_TIMEOUT_MS = 50 * 60_000;
/**
 * The VM's boot watchdog: vitest's first line must come within this of qemu's start, or
 * the VM is killed and booted once more. Measured here (TCG, shared 2-core host): 16-34 s
 * (four runs); 300 s is about nine times the slowest. One CI run's VM printed nothing for 33 minutes instead.
 */
const VM_FIRST_OUTPUT_DEADLINE_MS = 300_000;
const root = process.cwd();
const vitest = [process.execPath, 'node_modules/vitest/vitest.mjs', 'run'];
const cacheDir = path.join(root, '.cache', 'test-results');

function vitestArguments(projects: readonly string[], jsonFile: string, extra: readonly string[]): string[] {
  return [
    ...projects.flatMap((name) => ['--project', name]),
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${jsonFile}`,
    ...extra,
  ];
}

/** "vitest's first line 34 s after boot", "…, in the second boot": for the VM phase's line. */
function bootSummary(result: { bootSeconds: number | null; boots: number }): string {
  const first =
    result.bootSeconds === null
      ? 'no output from vitest'
      : `vitest's first line ${result.bootSeconds.toFixed(0)} s after boot`;
  return result.boots === 2 ? `${first}, in the second boot` : first;
}

function phase(name: string, started: number): void {
  console.log(`test: phase "${name}" took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const extra = process.argv.slice(2);
rmSync(cacheDir, { recursive: true, force: true });
mkdirSync(cacheDir, { recursive: true });
const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
const add = (c: Counts): void => {
  totals.passed += c.passed;
  totals.failed += c.failed;
  totals.skipped += c.skipped;
};
let status = 0;
const reports: string[] = [];

if (hostCanRouteMulticast()) {
  console.log(`test: this kernel (${release()}) routes multicast: every suite runs on this machine (native)`);
  const started = Date.now();
  const json = path.join(cacheDir, 'all.json');
  const run = spawnSync(
    vitest[0]!,
    [...vitest.slice(1), ...vitestArguments([MACHINE_PROJECT, ROUTING_PROJECT], json, extra)],
    { stdio: 'inherit' },
  );
  status = run.status ?? 1;
  add(countsOf(json, 'vitest'));
  reports.push(json);
  phase('all suites', started);
} else {
  console.log(
    `test: this kernel (${release()}) cannot route multicast: the "${ROUTING_PROJECT}" suites run in the test VM`,
  );
  let started = Date.now();
  const json = path.join(cacheDir, 'machine.json');
  const run = spawnSync(vitest[0]!, [...vitest.slice(1), ...vitestArguments([MACHINE_PROJECT], json, extra)], {
    stdio: 'inherit',
  });
  status = run.status ?? 1;
  add(countsOf(json, 'vitest on this machine'));
  reports.push(json);
  phase('suites on this machine', started);

  started = Date.now();
  const shareDir = path.join(cacheDir, 'vm-share');
  const vmJson = 'multicast-routing.json';
  try {
    const result = await runInVm({
      argv: [...vitest, ...vitestArguments([ROUTING_PROJECT], `${GUEST_SHARE}/${vmJson}`, extra)],
      cwd: root,
      shareDir,
      timeoutMs: VM_TIMEOUT_MS,
      startup: { milestone: 'command-output', deadlineMs: VM_FIRST_OUTPUT_DEADLINE_MS },
      // The guest's own files vanish with it: test artefacts (screenshots) go to the share.
      env: { IGMPPROXY_TEST_ARTIFACTS: `${GUEST_SHARE}/test-artifacts` },
    });
    const artifacts = path.join(shareDir, 'test-artifacts');
    if (existsSync(artifacts)) cpSync(artifacts, path.join(root, '.cache', 'test-artifacts'), { recursive: true });
    console.log(
      `test: the "${ROUTING_PROJECT}" suites ran on ${describeVm(result)} ` +
        `(waits scaled x${result.slowdown}; ${bootSummary(result)}): ` +
        `${result.status === null ? result.failure : `exit status ${result.status}`}`,
    );
    if (result.status !== 0) status = status || 1;
    add(countsOf(path.join(shareDir, vmJson), 'vitest in the VM'));
    reports.push(path.join(shareDir, vmJson));
  } catch (error) {
    console.error(`test: cannot run the test VM: ${errorMessage(error)}`);
    status = status || 1;
    totals.failed += 1;
  }
  phase('multicast-routing suites in the VM', started);
}

// What failed, again at the end: a long log's tail is often all that is kept of it.
for (const failure of reports.flatMap((report) => failuresOf(report, root))) console.log(`test: FAILED ${failure}`);
// The plain closing line CI reads.
console.log(`Tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exitCode = status;
