// Smoke test and measurements of built binaries: `--version` output and wall time, sizes,
// xz-compressed size. The xz size takes about a minute per binary, so it is cached by
// the binary's sha256 (a reproducible build gives the same bytes, hence the same size).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Arch, MAX_COMPRESSED_BYTES, VERSION_STARTUP_TARGET_MS } from './build-config.ts';
import { runOnTarget } from './target.ts';

export interface VersionCheck {
  readonly output: string;
  /** Wall times of the timed runs, ms, in run order. */
  readonly samplesMs: readonly number[];
  readonly minMs: number;
  readonly medianMs: number;
}

/** Runs `binary --version` (once to warm the page cache, then `runs` timed times); throws unless it prints version. */
export async function checkVersion(arch: Arch, binary: string, version: string, runs = 5): Promise<VersionCheck> {
  const samples: number[] = [];
  let output = '';
  for (let attempt = 0; attempt <= runs; attempt++) {
    const result = await runOnTarget(arch, binary, ['--version'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    output = result.stdout.trim();
    if (result.code !== 0 || !printsVersion(output, version)) {
      throw new Error(
        `${binary} --version (${arch}) exited ${result.code ?? result.signal} printing "${output}" ` +
          `(expected ${version}):\n${result.stderr}`,
      );
    }
    if (attempt > 0) samples.push(round(result.milliseconds));
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { output, samplesMs: samples, minMs: sorted[0] ?? 0, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0 };
}

/**
 * Start-up of the plain pinned node (`node -e 0`) on this host, as a yardstick: the
 * --version time of the binary only means something next to it on a shared machine.
 */
export async function measureHostNode(hostNode: string, runs = 5): Promise<{ minMs: number; medianMs: number }> {
  const samples: number[] = [];
  for (let attempt = 0; attempt <= runs; attempt++) {
    const result = await runOnTarget('x86_64', hostNode, ['-e', '0'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    if (result.code !== 0) throw new Error(`${hostNode} -e 0 exited ${result.code ?? result.signal}: ${result.stderr}`);
    if (attempt > 0) samples.push(round(result.milliseconds));
  }
  const sorted = samples.sort((a, b) => a - b);
  return { minMs: sorted[0] ?? 0, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0 };
}

/** True when output names version as a word ("igmpproxy 1.0.0", "v1.0.0", "1.0.0-100"). */
export function printsVersion(output: string, version: string): boolean {
  const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s v])${escaped}($|[\\s-])`).test(output);
}

/** Size of `xz -6` of file, cached under cacheDir by the file's sha256. */
export async function xzCompressedSize(file: string, sha256: string, cacheDir: string): Promise<number> {
  const cached = path.join(cacheDir, 'xz-size', `${sha256}.xz6`);
  if (existsSync(cached)) return Number((await readFile(cached, 'utf8')).trim());
  const bytes = await new Promise<number>((resolve, reject) => {
    const xz = spawn('xz', ['-6', '-T0', '--stdout', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let count = 0;
    let errors = '';
    xz.stdout.on('data', (chunk: Buffer) => (count += chunk.length));
    xz.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    xz.on('error', reject);
    xz.on('close', (code) => (code === 0 ? resolve(count) : reject(new Error(`xz ${file} exited ${code}: ${errors}`))));
  });
  await mkdir(path.dirname(cached), { recursive: true });
  await writeFile(`${cached}.partial`, `${bytes}\n`);
  await rename(`${cached}.partial`, cached);
  return bytes;
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

export interface ArchReport {
  readonly binary: string;
  readonly bytes: number;
  readonly sha256: string;
  /** xz-compressed size of the binary, or the .ipfire size when packaged (the binary dominates it); null = not measured. */
  readonly compressedBytes: number | null;
  readonly compressedBy: 'xz -6' | '.ipfire' | null;
  readonly shimSha256: string;
  readonly version: VersionCheck;
  readonly package?: { readonly ipfire: string; readonly ipfireBytes: number; readonly meta: string };
}

export interface BuildReport {
  readonly name: string;
  readonly version: string;
  readonly release: number;
  readonly nodeVersion: string;
  readonly sourceDateEpoch: number;
  readonly bundle: { readonly file: string; readonly bytes: number; readonly sha256: string };
  readonly arches: Partial<Record<Arch, ArchReport>>;
  /** `node -e 0` of the pinned node on the build host, measured with the binaries. */
  readonly hostNodeStartup: { readonly minMs: number; readonly medianMs: number };
  readonly buildSeconds: number;
  readonly limits: { readonly maxCompressedBytes: number; readonly versionStartupTargetMs: number };
}

/** Human-readable summary lines; limits that are exceeded are marked. */
export function summarize(report: BuildReport): string[] {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const lines = [
    `igmpproxy ${report.version}-${report.release} on Node ${report.nodeVersion}, SOURCE_DATE_EPOCH=${report.sourceDateEpoch}`,
    `bundle ${report.bundle.file}: ${report.bundle.bytes} bytes, sha256 ${report.bundle.sha256}`,
  ];
  for (const [arch, entry] of Object.entries(report.arches)) {
    if (entry === undefined) continue;
    const compressed =
      entry.compressedBytes === null
        ? 'compressed size not measured'
        : `${entry.compressedBy} ${mb(entry.compressedBytes)}` +
          (entry.compressedBytes <= report.limits.maxCompressedBytes
            ? ''
            : ` (OVER ${mb(report.limits.maxCompressedBytes)} LIMIT)`);
    // Only the native x86_64 start-up is judged; aarch64 runs under an emulator here.
    const startupOk = arch !== 'x86_64' || entry.version.medianMs <= report.limits.versionStartupTargetMs;
    lines.push(
      `${arch}: ${entry.binary} ${mb(entry.bytes)}, ${compressed}, ` +
        `--version ${entry.version.medianMs} ms median / ${entry.version.minMs} ms min` +
        `${arch === 'x86_64' ? (startupOk ? '' : ` (OVER ${report.limits.versionStartupTargetMs} ms TARGET)`) : ' (qemu)'}`,
      `${arch}: sha256 ${entry.sha256}`,
    );
    if (entry.package)
      lines.push(`${arch}: package ${entry.package.ipfire} ${mb(entry.package.ipfireBytes)}, ${entry.package.meta}`);
  }
  lines.push(
    `yardstick: plain node -e 0 on this host ${report.hostNodeStartup.medianMs} ms median / ${report.hostNodeStartup.minMs} ms min`,
    `build time ${report.buildSeconds.toFixed(1)} s`,
  );
  return lines;
}

export const LIMITS = {
  maxCompressedBytes: MAX_COMPRESSED_BYTES,
  versionStartupTargetMs: VERSION_STARTUP_TARGET_MS,
} as const;

function round(milliseconds: number): number {
  return Math.round(milliseconds * 10) / 10;
}
