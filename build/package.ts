// Builds the Pakfire package: <outDir>/igmpproxy-<version>-<release>.ipfire and <outDir>/meta-igmpproxy.
//
// The .ipfire is an uncompressed POSIX tar with install.sh, uninstall.sh, update.sh (0744),
// ROOTFILES and files.tar.xz, the payload that Pakfire unpacks into / (as IPFire's own
// lfs/Config PAK does). Same inputs give byte-identical outputs: sorted entries, owner 0/0,
// mtime = SOURCE_DATE_EPOCH, single-threaded xz.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAYOUT, readPackageInfo, renderScripts, REPO_ROOT, type PackageInfo, type RenderedFile } from './render.ts';
import { compareNames, tarArchive, type TarEntry } from './tar-archive.ts';

export interface BuildPackageOptions {
  readonly arch: 'x86_64' | 'aarch64';
  /** The single daemon binary for `arch`; installed as /usr/sbin/igmpproxy. */
  readonly binary: string;
  readonly outDir: string;
  readonly version: string;
  readonly release: number;
  readonly sourceDateEpoch: number;
  /** Default configuration to ship; addon/etc/igmpproxy.conf when not given. */
  readonly defaultConfig?: string;
}

export interface PackageFiles {
  readonly ipfire: string;
  readonly meta: string;
}

/** IPFire's own igmpproxy add-on (C igmpproxy 0.4) is at Release 7; `pakfire upgrade` would replace us if we were lower. */
export const OFFICIAL_ADDON_RELEASE = 7;

/**
 * Directories only this package uses: listed in ROOTFILES so that uninstall leaves nothing
 * behind (Pakfire rm -rf's every listed path, so no shared directory may be listed).
 */
export const OWNED_DIRECTORIES = ['usr/lib/igmpproxy', 'usr/share/igmpproxy'] as const;

const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+~_]*$/;

export class PackageError extends Error {}

export async function buildPackage(opts: BuildPackageOptions): Promise<PackageFiles> {
  const fromJson = await readPackageInfo();
  const pkg: PackageInfo = { ...fromJson, version: opts.version, release: opts.release };
  checkOptions(opts, pkg);

  const [binary, defaultConfig, scripts] = await Promise.all([
    readFile(opts.binary),
    readFile(opts.defaultConfig ?? path.join(REPO_ROOT, 'addon/etc/igmpproxy.conf')),
    renderScripts(pkg),
  ]);

  const payloadFiles: TarEntry[] = [
    file(relative(LAYOUT.daemon), 0o755, binary),
    file(relative(LAYOUT.defaultConfig), 0o644, defaultConfig),
    file(relative(LAYOUT.backupInclude), 0o644, Buffer.from(`${LAYOUT.config}\n${LAYOUT.settingsFile}\n`)),
    ...scripts.payload.map(renderedEntry),
    ...scripts.web.map(renderedEntry),
  ];
  const payload = [...payloadFiles, ...parentDirectories(payloadFiles)];
  const rootfiles = rootfilesOf(payloadFiles);
  const filesTarXz = await xz(tarArchive(payload, opts.sourceDateEpoch));

  const ipfire = tarArchive(
    [
      ...scripts.pakfire.map(renderedEntry),
      file('ROOTFILES', 0o644, Buffer.from(rootfiles.map((line) => `${line}\n`).join(''))),
      file('files.tar.xz', 0o644, filesTarXz),
    ],
    opts.sourceDateEpoch,
  );

  const fileName = `${pkg.name}-${pkg.version}-${pkg.release}.ipfire`;
  await mkdir(opts.outDir, { recursive: true });
  const ipfirePath = path.join(opts.outDir, fileName);
  const metaPath = path.join(opts.outDir, `meta-${pkg.name}`);
  await writeFile(ipfirePath, ipfire);
  await writeFile(metaPath, metaFile(pkg, fileName, ipfire.length));
  return { ipfire: ipfirePath, meta: metaPath };
}

function checkOptions(opts: BuildPackageOptions, pkg: PackageInfo): void {
  if (opts.arch !== 'x86_64' && opts.arch !== 'aarch64') throw new PackageError(`unknown arch '${String(opts.arch)}'`);
  if (!VERSION_PATTERN.test(pkg.version))
    throw new PackageError(`version '${pkg.version}' is not usable in a file name`);
  if (!Number.isInteger(pkg.release) || pkg.release <= OFFICIAL_ADDON_RELEASE) {
    throw new PackageError(
      `release must be an integer above ${OFFICIAL_ADDON_RELEASE} (IPFire's own add-on), got ${pkg.release}`,
    );
  }
  if (!Number.isInteger(opts.sourceDateEpoch) || opts.sourceDateEpoch < 0) {
    throw new PackageError(`sourceDateEpoch must be whole seconds >= 0, got ${opts.sourceDateEpoch}`);
  }
  // Pakfire reads meta values by splitting each line on ": ".
  for (const [field, value] of [
    ['Summary', pkg.summary],
    ['ProgVersion', pkg.version],
  ] as const) {
    if (/[\r\n]/.test(value) || value.includes(': ')) {
      throw new PackageError(`${field} '${value}' must be one line without ': '`);
    }
  }
}

/**
 * The meta file, field by field as IPFire's lfs/Config CREATE_META writes it (an empty
 * Dependencies value keeps the space after the colon).
 */
export function metaFile(pkg: PackageInfo, fileName: string, size: number): string {
  return [
    `Name: ${pkg.name}`,
    `Summary: ${pkg.summary}`,
    `ProgVersion: ${pkg.version}`,
    `Release: ${pkg.release}`,
    `Size: ${size}`,
    'Dependencies: ',
    `File: ${fileName}`,
    `Services: ${pkg.name}`,
    '',
  ].join('\n');
}

/** Every payload file, plus the directories only we use; sorted, relative, nothing else. */
export function rootfilesOf(files: readonly TarEntry[]): string[] {
  const lines = files.map((entry) => entry.path);
  for (const dir of OWNED_DIRECTORIES) {
    if (!lines.some((line) => line.startsWith(`${dir}/`))) throw new PackageError(`no payload file under ${dir}`);
    lines.push(dir);
  }
  return lines.sort(compareNames);
}

/** The directories above the payload files, so new ones get mode 0755 and root as owner. */
function parentDirectories(files: readonly TarEntry[]): TarEntry[] {
  const dirs = new Set<string>();
  for (const entry of files) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].map((dir) => ({ path: dir, type: 'directory' as const, mode: 0o755 }));
}

function file(filePath: string, mode: number, data: Uint8Array): TarEntry {
  return { path: filePath, type: 'file', mode, data };
}

function renderedEntry(rendered: RenderedFile): TarEntry {
  return file(rendered.path, rendered.mode, Buffer.from(rendered.content, 'utf8'));
}

function relative(absolute: string): string {
  return absolute.replace(/^\/+/, '');
}

/** xz -9, one thread, default CRC64 check: the same bytes for the same input on every run. */
function xz(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['--format=xz', '--check=crc64', '-T1', '-9', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new PackageError(`cannot run xz: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new PackageError(`xz failed (${code}): ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(input);
  });
}
