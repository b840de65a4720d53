// The lab's hostile LAN host (igmp-flood.c): built with gcc on first use, run in a
// namespace, its own count of what it sent read back. C and sendmmsg because a flood of
// 10,000 reports per second has to be reached in the TCG-emulated test VM too, where a
// Node or Python loop of single sends falls far short.
import { execFile } from 'node:child_process';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPOSITORY_ROOT } from '../../build/repository.ts';
import type { Netns } from './netns.ts';

const SOURCE = path.join(REPOSITORY_ROOT, 'scripts', 'lab', 'igmp-flood.c');
const OUTPUT = path.join(REPOSITORY_ROOT, '.cache', 'lab', 'igmp-flood');
const COMPILE_TIMEOUT_MS = 120_000;

export interface FloodPlan {
  readonly ifname: string;
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** First group; report i joins base + (i mod groupCount). */
  readonly groupBase: string;
  readonly groupCount: number;
  /** Every bigEvery-th report is an ALLOW record with bigSources sources instead (0: none). */
  readonly bigEvery: number;
  readonly bigSources: number;
}

export interface FloodResult {
  readonly sent: number;
  readonly bigSent: number;
  readonly failed: number;
  readonly lastErrno: number;
  readonly durationMs: number;
  readonly ratePerS: number;
}

let build: Promise<string> | undefined;

/** Compiles the generator once per process (into .cache/lab/); resolves with its path. */
export function floodGenerator(): Promise<string> {
  build ??= (async () => {
    await mkdir(path.dirname(OUTPUT), { recursive: true });
    const partial = `${OUTPUT}.${process.pid}.partial`;
    await promisify(execFile)('gcc', ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', partial, SOURCE], {
      timeout: COMPILE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    await rename(partial, OUTPUT);
    return OUTPUT;
  })();
  return build;
}

/** The argument vector of one flood (no shell anywhere). */
export function floodArguments(binary: string, plan: FloodPlan): string[] {
  return [
    binary,
    plan.ifname,
    String(plan.ratePerSecond),
    String(plan.durationMs),
    plan.groupBase,
    String(plan.groupCount),
    String(plan.bigEvery),
    String(plan.bigSources),
  ];
}

/** Runs one flood in `namespace` to its end; rejects when it fails or overruns by timeoutMs. */
export async function runFlood(namespace: Netns, plan: FloodPlan, timeoutMs: number): Promise<FloodResult> {
  const binary = await floodGenerator();
  const result = await namespace.exec(floodArguments(binary, plan), timeoutMs);
  if (result.code !== 0) throw new Error(`igmp-flood exited with ${result.code}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout.trim()) as FloodResult;
}
