// Start-up time of one-shot commands (`igmpproxy --version`, `-h`), side by side with
// - the floor: a minimal single binary built here from the same stripped Node, the same
//   baked-in options and a code cache, whose script only writes one line and exits. It is
//   what any Node SEA costs on this machine; ours can only come close to it;
// - plain `node -e 0` of the pinned Node;
// - C igmpproxy -h (Debian's), a C program: the cost of exec alone, more or less;
// - /bin/true: what spawning from this benchmark costs (part of every figure).
// Commands run round-robin, in a rotating order, so a noisy neighbour on a shared machine
// and the first-in-round penalty hit all of them alike. Every executable starts from the
// same page-cache state: dropped from the cache, read back by one untimed run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FALLBACK_SOURCE_DATE_EPOCH } from '../../build/build-config.ts';
import { strippedBaseNode } from '../../build/node-base.ts';
import { buildEnvironment } from '../../build/reproducible.ts';
import { buildSea } from '../../build/sea.ts';
import { findCIgmpproxy } from '../lab/c-igmpproxy.ts';
import { pinnedNode, repositoryRoot } from '../lab/iptv-lab.ts';
import { OURS_BINARY } from './candidates.ts';
import { percentile } from './stats.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

export interface StartupCommand {
  readonly id: string;
  readonly label: string;
  readonly command: readonly string[];
  /** What its output must contain (checked on every run). */
  readonly expect: RegExp;
}

export type StartupRow =
  | {
      readonly id: string;
      readonly label: string;
      readonly command: readonly string[];
      readonly available: true;
      readonly runs: number;
      readonly p50: number;
      readonly min: number;
      readonly p90: number;
    }
  | {
      readonly id: string;
      readonly label: string;
      readonly command: readonly string[];
      readonly available: false;
      readonly reason: string;
    };

const RUN_TIMEOUT_MS = 10_000;
/** What the floor binary prints. */
const FLOOR_OUTPUT = 'floor 0.0.0';

/** Builds the floor binary in workDir; returns its path. */
export async function buildFloorBinary(workDir: string): Promise<string> {
  const env = buildEnvironment(FALLBACK_SOURCE_DATE_EPOCH);
  const baseNode = await strippedBaseNode('x86_64', { env });
  const script = path.join(workDir, 'floor.cjs');
  writeFileSync(script, `require('node:fs').writeSync(1, ${JSON.stringify(`${FLOOR_OUTPUT}\n`)});\nprocess.exit(0);\n`);
  const output = path.join(workDir, 'floor');
  // buildSea embeds one asset under the shim's name; the floor never reads it, so the
  // script itself serves (only the blob's size changes, by a few bytes).
  await buildSea({
    arch: 'x86_64',
    baseNode,
    bundle: script,
    shim: script,
    workDir: path.join(workDir, 'sea'),
    output,
    sourceDateEpoch: FALLBACK_SOURCE_DATE_EPOCH,
    env,
  });
  return output;
}

/** The commands to time; those that cannot run come back as rows with the reason. */
export async function startupCommands(
  workDir: string,
  log: (line: string) => void,
): Promise<{ commands: StartupCommand[]; missing: StartupRow[] }> {
  const commands: StartupCommand[] = [];
  const missing: StartupRow[] = [];
  if (existsSync(OURS_BINARY)) {
    commands.push({
      id: 'ours-version',
      label: 'ours: igmpproxy --version',
      command: [OURS_BINARY, '--version'],
      expect: /^igmpproxy \d/,
    });
    commands.push({
      id: 'ours-help',
      label: 'ours: igmpproxy -h',
      command: [OURS_BINARY, '-h'],
      expect: /^Usage: igmpproxy/,
    });
  } else {
    const reason = `${path.relative(repositoryRoot, OURS_BINARY)} missing (npm run build)`;
    missing.push({
      id: 'ours-version',
      label: 'ours: igmpproxy --version',
      command: [OURS_BINARY, '--version'],
      available: false,
      reason,
    });
  }
  try {
    log('startup: building the floor binary (minimal SEA on the same Node)');
    commands.push({
      id: 'floor',
      label: 'floor: minimal Node SEA writing one line',
      command: [await buildFloorBinary(workDir)],
      expect: new RegExp(`^${FLOOR_OUTPUT}`),
    });
  } catch (error) {
    missing.push({
      id: 'floor',
      label: 'floor: minimal Node SEA writing one line',
      command: [],
      available: false,
      reason: errorMessage(error).split('\n')[0] ?? 'build failed',
    });
  }
  commands.push({
    id: 'node',
    label: 'pinned node -e 0',
    command: [pinnedNode, '-e', 'process.stdout.write("0\\n")'],
    expect: /^0$/m,
  });
  const c = findCIgmpproxy({ install: false });
  if (c.available)
    commands.push({
      id: 'c-help',
      label: `C igmpproxy ${c.version}: -h`,
      command: [c.path, '-h'],
      expect: /Usage: igmpproxy/,
    });
  else missing.push({ id: 'c-help', label: 'C igmpproxy -h', command: [], available: false, reason: c.reason });
  commands.push({ id: 'spawn', label: 'spawn overhead: /bin/true', command: ['/bin/true'], expect: /^$/ });
  return { commands, missing };
}

/**
 * Drops a file's pages from the page cache (flushed first, then GNU dd's nocache:
 * posix_fadvise DONTNEED). Why: a file just written (the floor, built on the spot) sits in
 * the cache in larger pieces than one read back from disk and starts with ~300 fewer page
 * faults here, a few ms that are not the program's. Returns false when it could not.
 */
export function evictFromPageCache(file: string): boolean {
  const flushed = spawnSync('sync', [file], { timeout: RUN_TIMEOUT_MS });
  const dropped = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], {
    timeout: RUN_TIMEOUT_MS,
  });
  return flushed.status === 0 && dropped.status === 0;
}

/**
 * Times every command `runs` times, round-robin, after one untimed run each (which reads an
 * evicted executable back); a command that fails or prints the wrong thing is reported, not timed.
 */
export function timeCommands(commands: readonly StartupCommand[], runs: number): StartupRow[] {
  const samples = new Map<string, number[]>(commands.map((command) => [command.id, []]));
  const failed = new Map<string, string>();
  for (let round = -1; round < runs; round++) {
    // Each round starts with the next command: whichever runs first after this script's own
    // work measured several ms slower here, and that must not always be the same one.
    const order = commands.map((_, index) => commands[(index + round + 1) % commands.length] as StartupCommand);
    for (const command of order) {
      if (failed.has(command.id)) continue;
      const [file, ...args] = command.command as [string, ...string[]];
      const started = process.hrtime.bigint();
      const result = spawnSync(file, args, {
        encoding: 'utf8',
        timeout: RUN_TIMEOUT_MS,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
      if (result.error !== undefined || result.status !== 0 || !command.expect.test(output)) {
        failed.set(
          command.id,
          `exit ${result.status ?? result.signal ?? result.error?.message}, printed "${output.trim().slice(0, 80)}"`,
        );
        continue;
      }
      if (round >= 0) samples.get(command.id)?.push(elapsedMs);
    }
  }
  return commands.map((command): StartupRow => {
    const reason = failed.get(command.id);
    if (reason !== undefined)
      return { id: command.id, label: command.label, command: command.command, available: false, reason };
    const times = samples.get(command.id) ?? [];
    const round1 = (value: number) => Math.round(value * 10) / 10;
    return {
      id: command.id,
      label: command.label,
      command: command.command,
      available: true,
      runs: times.length,
      p50: round1(percentile(times, 50)),
      min: round1(Math.min(...times)),
      p90: round1(percentile(times, 90)),
    };
  });
}

/** Builds what it needs in a temporary directory (removed afterwards) and times everything. */
export async function measureStartup(runs: number, log: (line: string) => void): Promise<StartupRow[]> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-bench-startup-'));
  try {
    const { commands, missing } = await startupCommands(workDir, log);
    const notEvicted = commands
      .filter((command) => !evictFromPageCache(command.command[0] as string))
      .map((command) => command.id);
    if (notEvicted.length > 0) log(`startup: could not drop from the page cache: ${notEvicted.join(', ')}`);
    log(`startup: ${runs} runs of ${commands.length} commands, round-robin, after one untimed run each`);
    return [...timeCommands(commands, runs), ...missing];
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

export function renderStartup(rows: readonly StartupRow[], markdown: boolean): string {
  const lines = markdown
    ? ['| command | p50 ms | min ms | p90 ms |', '|---|---:|---:|---:|']
    : [
        `${'start-up of one-shot commands'.padEnd(48)} ${'p50'.padStart(7)} ${'min'.padStart(7)} ${'p90'.padStart(7)}  (ms)`,
      ];
  for (const row of rows) {
    const cells = row.available
      ? [row.p50, row.min, row.p90].map((value) => value.toFixed(1))
      : [`not available (${row.reason})`];
    lines.push(
      markdown
        ? `| ${row.label} | ${cells.join(' | ')} |`
        : `${row.label.padEnd(48)} ${cells.map((cell) => cell.padStart(7)).join(' ')}`,
    );
  }
  return lines.join('\n');
}
