// The run-time file systems of an IPFire box, read from IPFire's own boot scripts vendored in
// test/fixtures/ipfire/ (not re-typed here): /run from mountkernfs, /var/lock from mounttmpfs,
// /dev/shm from udev, and /var/run -> ../run from lfs/stage2. The stand-in appliances
// (appliance.ts, ../deploy/helpers/appliance-sshd.ts) mount exactly these, so a daemon that
// needs more than IPFire gives (an exec-able /run) fails in the tests as it would on the box.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const IPFIRE_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/ipfire');

export interface IpfireMount {
  /** Mount point on the box. */
  readonly target: string;
  readonly fstype: string;
  /** The -o argument, as written in IPFire's script. */
  readonly options: string;
  /** The vendored script it comes from (file name in test/fixtures/ipfire). */
  readonly script: string;
}

/** Which script mounts which run-time directory on IPFire. */
const SOURCES: readonly { readonly script: string; readonly target: string }[] = [
  { script: 'mountkernfs', target: '/run' },
  { script: 'udev', target: '/dev/shm' },
  { script: 'mounttmpfs', target: '/var/lock' },
];

/** Options are interpolated into a shell script: only what mount options are made of. */
const SAFE_OPTIONS = /^[A-Za-z0-9=,]+$/;

/** The `mount ... -t tmpfs ... -o OPTS ... TARGET` command lines of one script. */
export function tmpfsMountsIn(scriptText: string, script: string): IpfireMount[] {
  const mounts: IpfireMount[] = [];
  for (const line of scriptText.split('\n')) {
    const command = line.split('||')[0]!.trim();
    if (!/^mount\s/.test(command)) continue;
    const words = command.split(/\s+/).slice(1);
    let fstype = '';
    let options = '';
    const operands: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      if (word === '-t') fstype = words[++i] ?? '';
      else if (word === '-o') options = words[++i] ?? '';
      else if (word.startsWith('-')) continue;
      else operands.push(word);
    }
    if (fstype !== 'tmpfs') continue;
    const target = operands.at(-1) ?? '';
    if (!SAFE_OPTIONS.test(options)) throw new Error(`${script}: unexpected mount options '${options}' for ${target}`);
    mounts.push({ target, fstype, options, script });
  }
  return mounts;
}

/** /run, /dev/shm and /var/lock as IPFire's scripts mount them; throws when a script changed shape. */
export function ipfireRuntimeMounts(): IpfireMount[] {
  return SOURCES.map(({ script, target }) => {
    const found = tmpfsMountsIn(readFileSync(path.join(IPFIRE_FIXTURES, script), 'utf8'), script).filter(
      (mount) => mount.target === target,
    );
    if (found.length !== 1) throw new Error(`${script}: expected one tmpfs mount on ${target}, found ${found.length}`);
    return found[0]!;
  });
}

/** The symlink lfs/stage2 makes for /var/run (`ln -svf ../run /var/run`): its target. */
export function ipfireVarRunLink(): string {
  const text = readFileSync(path.join(IPFIRE_FIXTURES, 'lfs-stage2'), 'utf8');
  const links = [...text.matchAll(/^\s*ln\s+-\w+\s+(\S+)\s+\/var\/run\s*$/gm)].map((match) => match[1]!);
  if (links.length !== 1) throw new Error(`lfs-stage2: expected one 'ln ... /var/run' line, found ${links.length}`);
  return links[0]!;
}

/**
 * Shell lines that mount IPFire's run-time file systems under the root directory in
 * "$<rootVariable>" (inside a private mount namespace). The root must already hold the
 * mount points and var/run as the link (see prepareIpfireRunLayout).
 */
export function ipfireMountCommands(rootVariable: string): string {
  return ipfireRuntimeMounts()
    .map(
      (mount) =>
        `mount -t ${mount.fstype} -o ${mount.options} ipfire-${mount.script} "$${rootVariable}${mount.target}"`,
    )
    .join('\n');
}

/**
 * The parsed mount table entry of one mount point (from /proc/self/mountinfo): per-mount
 * options (nosuid, noexec, ...) and the file system's own (size=, mode=).
 */
export interface MountInfoEntry {
  readonly mountPoint: string;
  readonly fstype: string;
  readonly mountOptions: readonly string[];
  readonly superOptions: readonly string[];
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [fstype, , superOptions] = after.split(' ');
    entries.push({
      mountPoint: fields[4]!.replace(/\\040/g, ' '),
      fstype: fstype!,
      mountOptions: fields[5]!.split(','),
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return entries;
}

const FLAGS = ['nosuid', 'nodev', 'noexec'] as const;

/** "8M" -> "8192k", as the kernel shows a tmpfs size. */
function kernelSize(size: string): string {
  const match = /^(\d+)([kmg]?)$/i.exec(size);
  if (!match) return size;
  const kib = Number(match[1]) * ({ '': 1 / 1024, k: 1, m: 1024, g: 1024 * 1024 }[match[2]!.toLowerCase()] ?? 1);
  return `${kib}k`;
}

/**
 * How a mount differs from IPFire's line for it: each of nosuid/nodev/noexec present exactly
 * when IPFire sets it, size and mode as IPFire sets them (tmpfs's default mode 1777 when not).
 * Empty when it matches. The last entry for the mount point counts (it is the visible one).
 */
export function mountDifferences(
  expected: IpfireMount,
  table: readonly MountInfoEntry[],
  mountPoint = expected.target,
): string[] {
  const entry = table.filter((mount) => mount.mountPoint === mountPoint).at(-1);
  if (!entry) return [`${mountPoint}: not a mount point`];
  const wanted = expected.options.split(',');
  const differences: string[] = [];
  if (entry.fstype !== expected.fstype) differences.push(`${mountPoint}: ${entry.fstype}, IPFire: ${expected.fstype}`);
  for (const flag of FLAGS) {
    const has = entry.mountOptions.includes(flag);
    if (has !== wanted.includes(flag))
      differences.push(
        `${mountPoint}: ${has ? '' : 'no '}${flag}, IPFire (${expected.script}): ${has ? 'no ' : ''}${flag}`,
      );
  }
  const size = wanted.find((option) => option.startsWith('size='));
  if (size !== undefined) {
    const want = `size=${kernelSize(size.slice(5))}`;
    if (!entry.superOptions.includes(want))
      differences.push(`${mountPoint}: ${entry.superOptions.join(',')}, IPFire (${expected.script}): ${want}`);
  }
  const mode = wanted.find((option) => option.startsWith('mode='))?.slice(5) ?? '1777';
  const shownMode = entry.superOptions.find((option) => option.startsWith('mode='))?.slice(5) ?? '1777';
  if (Number.parseInt(shownMode, 8) !== Number.parseInt(mode, 8)) {
    differences.push(`${mountPoint}: mode=${shownMode}, IPFire (${expected.script}): mode=${mode}`);
  }
  return differences;
}
