// The local package: the meta file's fields, the .ipfire's size/sha256, its members and the
// CPU architecture of the binaries inside (read from ELF headers in files.tar.xz).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { DeployError } from './errors.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

export interface PackageMeta {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly size: number;
  readonly file: string;
}

export interface LocalPackage {
  readonly meta: PackageMeta;
  readonly metaFile: string;
  readonly packageFile: string;
  readonly size: number;
  readonly sha256: string;
  readonly metaSha256: string;
  /** `uname -m` name of the architecture the binaries are built for; null: no native code in it. */
  readonly arch: string | null;
}

/** Members pakfire expects in every .ipfire. */
export const PACKAGE_MEMBERS = ['install.sh', 'uninstall.sh', 'update.sh', 'ROOTFILES', 'files.tar.xz'] as const;

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const VERSION_TEXT = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/;

/** Meta fields are `Key: value`, split at the first ": " like pakfire does. */
export function parseMetaFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(': ');
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 2).trim());
    else if (line.trim().endsWith(':')) fields.set(line.trim().slice(0, -1), '');
  }
  return fields;
}

export function parseMeta(text: string, source: string): PackageMeta {
  const fields = parseMetaFields(text);
  const need = (key: string, pattern: RegExp): string => {
    const value = fields.get(key);
    if (value === undefined || value === '') throw new DeployError(`${source}: no ${key}: field`);
    if (!pattern.test(value)) throw new DeployError(`${source}: ${key}: ${JSON.stringify(value)} is not valid`);
    return value;
  };
  const name = need('Name', PACKAGE_NAME);
  const version = need('ProgVersion', VERSION_TEXT);
  const release = need('Release', /^[0-9]{1,9}$/);
  const size = Number(need('Size', /^[0-9]{1,15}$/));
  const file = need('File', /^[^/\0]+\.ipfire$/);
  return { name, version, release, size, file };
}

/** ELF e_machine values of the architectures IPFire builds, as `uname -m` names them. */
// biome-ignore lint/complexity/useSimpleNumberKeys: e_machine values are documented in hex (elf.h)
const ELF_MACHINES: Record<number, string> = { 0x3e: 'x86_64', 0xb7: 'aarch64', 0xf3: 'riscv64' };

/** The architecture an ELF header names, null when the bytes are not ELF. */
export function elfArchitecture(head: Buffer): string | null {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null;
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return ELF_MACHINES[machine] ?? `elf-machine-0x${machine.toString(16)}`;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface PackageContents {
  readonly members: readonly string[];
  readonly arch: string | null;
}

/**
 * Lists the outer tar's members and finds the first ELF file in files.tar.xz (decompressed by
 * the xz tool, streamed, stopped as soon as one is found).
 */
export function inspectPackage(file: string): Promise<PackageContents> {
  return new Promise((resolve, reject) => {
    const members: string[] = [];
    let arch: string | null = null;
    let payloadDone: Promise<void> = Promise.resolve();
    const outer = new Parser();
    outer.on('warn', () => undefined);
    outer.on('entry', (entry: ReadEntry) => {
      const name = entry.path.replace(/^\.\//, '');
      members.push(name);
      if (name !== 'files.tar.xz' || entry.type !== 'File') {
        entry.resume();
        return;
      }
      payloadDone = findElfInPayload(entry).then((found) => {
        arch = found;
      });
    });
    outer.on('error', (error: Error) =>
      reject(new DeployError(`${file} is not a readable tar archive: ${error.message}`)),
    );
    outer.on('end', () => {
      payloadDone.then(() => resolve({ members, arch }), reject);
    });
    const input = createReadStream(file);
    input.on('error', (error) => reject(new DeployError(`cannot read ${file}: ${error.message}`)));
    input.pipe(outer);
  });
}

function findElfInPayload(entry: ReadEntry): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const xz = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let settled = false;
    const finish = (arch: string | null): void => {
      if (settled) return;
      settled = true;
      entry.unpipe(xz.stdin);
      entry.resume();
      xz.kill();
      resolve(arch);
    };
    xz.on('error', (error) => {
      if (!settled) {
        settled = true;
        entry.resume();
        reject(new DeployError(`cannot run xz to read the package payload: ${error.message}`));
      }
    });
    xz.stdin.on('error', () => undefined);
    const inner = new Parser();
    inner.on('warn', () => undefined);
    inner.on('error', () => finish(null));
    inner.on('entry', (member: ReadEntry) => {
      if (settled || member.type !== 'File' || member.size < 20) {
        member.resume();
        return;
      }
      const head: Buffer[] = [];
      let length = 0;
      member.on('data', (chunk: Buffer) => {
        if (length < 20) {
          head.push(chunk);
          length += chunk.length;
          if (length >= 20) {
            const found = elfArchitecture(Buffer.concat(head));
            if (found !== null) finish(found);
          }
        }
      });
    });
    inner.on('end', () => finish(null));
    xz.stdout.pipe(inner);
    entry.pipe(xz.stdin);
  });
}

export interface PackageSelection {
  readonly packageFile: string | null;
  readonly metaFile: string | null;
  /** Package name: the meta file next to a lone --package is meta-<name>. */
  readonly defaultName: string;
}

/** Loads and checks the local package: meta fields, size, members, architecture, checksums. */
export async function loadLocalPackage(selection: PackageSelection): Promise<LocalPackage> {
  let metaFile = selection.metaFile;
  if (metaFile === null) {
    if (selection.packageFile === null)
      throw new DeployError('no package given: name its meta file or its .ipfire file');
    // The build writes both into one directory.
    metaFile = path.join(path.dirname(selection.packageFile), `meta-${selection.defaultName}`);
  }
  let metaText: string;
  try {
    metaText = readFileSync(metaFile, 'utf8');
  } catch (error) {
    throw new DeployError(
      `cannot read the meta file ${metaFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)} (pass it with --meta)`,
    );
  }
  const meta = parseMeta(metaText, metaFile);
  const packageFile = selection.packageFile ?? path.join(path.dirname(metaFile), meta.file);
  let size: number;
  try {
    const stat = statSync(packageFile);
    if (!stat.isFile()) throw new DeployError(`${packageFile} is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof DeployError) throw error;
    throw new DeployError(
      `cannot read the package ${packageFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
    );
  }
  if (size !== meta.size) {
    throw new DeployError(
      `${metaFile} says Size: ${meta.size} but ${packageFile} has ${size} bytes; they do not belong together`,
    );
  }
  const contents = await inspectPackage(packageFile);
  const missing = PACKAGE_MEMBERS.filter((member) => !contents.members.includes(member));
  if (missing.length > 0)
    throw new DeployError(`${packageFile} is not a pakfire package: ${missing.join(', ')} missing`);
  const [sha256, metaSha256] = await Promise.all([sha256OfFile(packageFile), sha256OfFile(metaFile)]);
  return { meta, metaFile, packageFile, size, sha256, metaSha256, arch: contents.arch };
}
