// npm run test:aarch64: the shipped aarch64 binary (dist/aarch64/igmpproxy, made by
// `bash scripts/dev.sh build --all`) forwards multicast in an emulated aarch64 guest:
// Debian's arm64 kernel under qemu-system-aarch64 (scripts/vm/aarch64.ts) runs
// scripts/vm/aarch64-guest.py, which prints PASS or FAIL per step. Exits non-zero on any
// failure, and 2 when the check could not run at all.
//   node scripts/node24.mjs scripts/test-aarch64.ts [--timeout SECONDS]
import { openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import { EM_AARCH64, elfMachine, runInAarch64Vm } from './vm/aarch64.ts';
import { REPOSITORY_ROOT as repositoryRoot } from '../build/repository.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';

const BINARY = path.join(repositoryRoot, 'dist', 'aarch64', 'igmpproxy');
const GUEST_PROGRAM = path.join(repositoryRoot, 'scripts', 'vm', 'aarch64-guest.py');
/**
 * How much slower than native the guest's waits are stretched: aarch64 emulated on this
 * x86_64 machine (TCG). Measured here: the daemon's Node start ~40x, a join to the first
 * forwarded packet ~20x. Only bounds are scaled, never what is asserted.
 */
const SLOWDOWN = 20;

function parseTimeout(argv: readonly string[]): number {
  if (argv.length === 0) return 15 * 60_000;
  if (argv.length === 2 && argv[0] === '--timeout' && /^\d+$/.test(argv[1] ?? '')) return Number(argv[1]) * 1000;
  throw new Error(`unexpected arguments: ${argv.join(' ')} (usage: scripts/test-aarch64.ts [--timeout SECONDS])`);
}

function checkBinary(file: string): void {
  const header = Buffer.alloc(20);
  let descriptor: number;
  try {
    descriptor = openSync(file, 'r');
  } catch {
    throw new Error(
      `${path.relative(repositoryRoot, file)} is missing: build it with \`bash scripts/dev.sh build --all\``,
    );
  }
  try {
    readSync(descriptor, header, 0, header.length, 0);
  } finally {
    closeSync(descriptor);
  }
  if (elfMachine(header) !== EM_AARCH64)
    throw new Error(`${path.relative(repositoryRoot, file)} is not an aarch64 executable`);
}

async function main(): Promise<number> {
  const timeoutMs = parseTimeout(process.argv.slice(2));
  checkBinary(BINARY);
  const started = Date.now();
  const result = await runInAarch64Vm({
    argv: ['python3', '/vmshare/aarch64-guest.py', 'check', '/vmshare/igmpproxy', '/tmp/igmpproxy-aarch64'],
    files: { igmpproxy: BINARY, 'aarch64-guest.py': GUEST_PROGRAM },
    env: { IGMPPROXY_TEST_SLOWDOWN: String(SLOWDOWN) },
    timeoutMs,
    log: (line) => process.stderr.write(`test:aarch64: ${line}\n`),
  });
  const where = `${result.kernel.release} emulated (qemu-system-aarch64 -M virt -cpu max, TCG)`;
  const times = `VM ${result.vmSeconds.toFixed(1)} s, total ${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (result.status === null) {
    process.stderr.write(`test:aarch64: FAIL on ${where}: ${result.failure} (${times})\n`);
    return 1;
  }
  process.stderr.write(
    `test:aarch64: ${result.status === 0 ? 'PASS' : `FAIL (exit status ${result.status})`} on ${where} (${times})\n`,
  );
  return result.status === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`test:aarch64: ${errorMessage(error)}\n`);
  process.exitCode = 2;
}
