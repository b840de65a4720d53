// Memory per group: the real daemon code (memory-probe.ts) built into a single binary with
// exactly the daemon's baked-in Node and V8 options and code cache, on a stand-in shim (no
// kernel: this runs natively on any machine), one TV joining 0, 100, 500, 2000 groups.
// RssAnon at steady state (10 s after the joins: past the paced reports and the daemon's
// memory release once quiet) and after a forced full GC at each step,
// and the floor: a minimal single binary with the same options, idle with one socket. The
// lab (scenarios.ts) measures the real daemon on a real kernel at idle and at --groups.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FALLBACK_SOURCE_DATE_EPOCH } from '../../build/build-config.ts';
import { bundleDaemon } from '../../build/bundle.ts';
import { strippedBaseNode } from '../../build/node-base.ts';
import { buildEnvironment } from '../../build/reproducible.ts';
import { buildNativeShim } from '../../build/native.ts';
import { buildSea } from '../../build/sea.ts';
import { repositoryRoot } from '../lab/iptv-lab.ts';

export const MEMORY_STEPS: readonly number[] = [0, 100, 500, 2000];

export interface MemoryRow {
  readonly groups: number;
  readonly steadyKb: number;
  readonly afterGcKb: number;
}

export type MemoryResult =
  | { readonly available: true; readonly floorKb: number; readonly rows: readonly MemoryRow[] }
  | { readonly available: false; readonly reason: string };

const RUN_TIMEOUT_MS = 120_000;

/** The probe's lines: "  500 groups: RssAnon 14664 kB steady, 14500 kB after GC; heap …". */
export function parseProbeOutput(text: string): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const match of text.matchAll(/^\s*(\d+) groups: RssAnon (\d+) kB steady, (\d+) kB after GC/gm)) {
    rows.push({ groups: Number(match[1]), steadyKb: Number(match[2]), afterGcKb: Number(match[3]) });
  }
  return rows;
}

/** A minimal single binary that opens one socket, waits 1 s and prints its RssAnon. */
const FLOOR_SCRIPT = `const s = require('node:dgram').createSocket('udp4'); s.bind(0, '127.0.0.1', () => setTimeout(() => {
  const kb = /RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];
  require('node:fs').writeSync(1, 'floor RssAnon ' + kb + ' kB\\n'); s.close(); }, 1000));\n`;

export async function measureMemory(log: (line: string) => void): Promise<MemoryResult> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-bench-memory-'));
  try {
    const env = buildEnvironment(FALLBACK_SOURCE_DATE_EPOCH);
    const baseNode = await strippedBaseNode('x86_64', { env });
    log("memory: building the probe and the floor (single binaries with the daemon's options)");
    const bundle = path.join(workDir, 'probe.cjs');
    await bundleDaemon({
      version: 'probe',
      release: 0,
      outFile: bundle,
      root: repositoryRoot,
      entryPoint: 'scripts/bench/memory-probe.ts',
    });
    const probe = path.join(workDir, 'probe');
    await buildSea({
      arch: 'x86_64',
      baseNode,
      bundle,
      shim: bundle,
      workDir: path.join(workDir, 'sea-probe'),
      output: probe,
      sourceDateEpoch: FALLBACK_SOURCE_DATE_EPOCH,
      env,
    });
    const floorScript = path.join(workDir, 'floor.cjs');
    writeFileSync(floorScript, FLOOR_SCRIPT);
    const floor = path.join(workDir, 'floor');
    await buildSea({
      arch: 'x86_64',
      baseNode,
      bundle: floorScript,
      shim: floorScript,
      workDir: path.join(workDir, 'sea-floor'),
      output: floor,
      sourceDateEpoch: FALLBACK_SOURCE_DATE_EPOCH,
      env,
    });

    // The real shim (THP off, malloc trimmed, as in the daemon); sockets stay stand-ins.
    const shim = await buildNativeShim('x64', path.join(workDir, 'native'));
    const floorRun = spawnSync(floor, [], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    const floorKb = Number(/floor RssAnon (\d+) kB/.exec(floorRun.stdout ?? '')?.[1]);
    log(`memory: probe at ${MEMORY_STEPS.join(', ')} groups`);
    const run = spawnSync(probe, [`--steps=${MEMORY_STEPS.join(',')}`, `--shim=${shim}`], {
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
    });
    const rows = parseProbeOutput(run.stdout ?? '');
    if (run.status !== 0 || rows.length !== MEMORY_STEPS.length || !Number.isFinite(floorKb)) {
      return {
        available: false,
        reason:
          `probe exit ${run.status ?? run.signal}, floor exit ${floorRun.status ?? floorRun.signal}: ` +
          `${`${run.stderr ?? ''}${floorRun.stderr ?? ''}`.trim().split('\n')[0] ?? ''}`,
      };
    }
    return { available: true, floorKb, rows };
  } catch (error) {
    return { available: false, reason: (error as Error).message.split('\n')[0] ?? 'build failed' };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

const mb = (kb: number): string => (kb / 1024).toFixed(1);

/** The table: RssAnon per step, and what each group added since the step before. */
export function renderMemory(result: MemoryResult, markdown: boolean): string {
  if (!result.available) return `memory per group: not available (${result.reason})`;
  const header = ['groups', 'RssAnon steady MB', 'after GC MB', 'above floor MB', 'per added group kB'];
  const body = result.rows.map((row, index) => {
    const previous = index > 0 ? result.rows[index - 1] : undefined;
    const perGroup =
      previous === undefined ? '' : ((row.afterGcKb - previous.afterGcKb) / (row.groups - previous.groups)).toFixed(1);
    return [String(row.groups), mb(row.steadyKb), mb(row.afterGcKb), mb(row.afterGcKb - result.floorKb), perGroup];
  });
  const floorLine = `floor (minimal single binary, same options, one socket, idle): ${mb(result.floorKb)} MB`;
  if (markdown) {
    return [
      `| ${header.join(' | ')} |`,
      `|${header.map(() => '---:').join('|')}|`,
      ...body.map((cells) => `| ${cells.join(' | ')} |`),
      '',
      floorLine,
    ].join('\n');
  }
  return [
    header.map((cell, index) => (index === 0 ? cell.padEnd(8) : cell.padStart(19))).join(''),
    ...body.map((cells) => cells.map((cell, index) => (index === 0 ? cell.padEnd(8) : cell.padStart(19))).join('')),
    floorLine,
  ].join('\n');
}
