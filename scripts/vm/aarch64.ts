// An emulated aarch64 test VM: qemu-system-aarch64 (virt board, TCG) booting Debian's arm64
// kernel on a small root of arm64 Debian packages. The x86_64 VM (vm.ts) shares the
// machine's own root; an arm64 guest cannot, so this one gets a root made once with
// mmdebstrap and kept in .cache/vm-aarch64/. The same stage scripts and initramfs as the
// x86_64 VM boot it (guest-init.sh, guest-stage2.sh, initramfs.ts).
//
// The root is only *extracted* (mmdebstrap --variant=extract: no maintainer scripts, so no
// binfmt_misc or emulated dpkg is needed): arm64 glibc and libstdc++ for the igmpproxy
// binary (a Node single executable), iproute2 for namespaces and veth, python3-minimal for
// the guest's test program, static busybox for the stage scripts and the initramfs, and
// the kernel with its modules.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs } from './initramfs.ts';
import { findGuestKernel, type GuestKernel } from './kernel.ts';
import { runQemu } from './qemu.ts';
import { commandScript } from './shell-quote.ts';
import { REPOSITORY_ROOT as repositoryRoot } from '../../build/repository.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const STAGE2_SCRIPT = path.join(here, 'guest-stage2.sh');

export const DEBIAN_SUITE = 'bookworm';
/** Debian's archive, with the updates and security suites (where current kernels are). */
export const DEBIAN_SOURCES: readonly string[] = [
  `deb http://deb.debian.org/debian ${DEBIAN_SUITE} main`,
  `deb http://deb.debian.org/debian ${DEBIAN_SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${DEBIAN_SUITE}-security main`,
];
/** The root's packages; apt adds their dependencies. */
export const ROOT_PACKAGES: readonly string[] = [
  'linux-image-arm64',
  'busybox-static',
  'iproute2',
  'python3-minimal',
  'libstdc++6',
];
/** Bump when the steps after extraction change, so old cached roots are not reused. */
const ROOT_LAYOUT = 1;
/** Mount points stage 2 needs that extracted packages do not create. */
const MOUNT_POINTS = ['proc', 'sys', 'run', 'tmp', 'dev'];
/** Where busybox's applets may already be provided by a package (then the package's wins). */
const COMMAND_DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin'];

export const DEFAULT_CACHE_DIR = path.join(repositoryRoot, '.cache', 'vm-aarch64');

/** The mmdebstrap command line that extracts the root into target. */
export function mmdebstrapArguments(target: string): string[] {
  return [
    '--variant=extract',
    '--arch=arm64',
    `--include=${ROOT_PACKAGES.join(',')}`,
    '--quiet',
    DEBIAN_SUITE,
    target,
    ...DEBIAN_SOURCES,
  ];
}

/** The cached root's directory: a new one whenever what goes into it changes. */
export function rootDirectory(cacheDir: string): string {
  const key = createHash('sha256')
    .update(JSON.stringify([ROOT_LAYOUT, DEBIAN_SOURCES, ROOT_PACKAGES]))
    .digest('hex');
  return path.join(cacheDir, `root-${key.slice(0, 12)}`);
}

/**
 * The busybox applet links to add to the root, from `busybox --list-full` ("bin/sh",
 * "usr/bin/awk", …): every applet whose name no package already provides in a command
 * directory (a package's real tool beats busybox's applet).
 */
export function busyboxLinks(listFull: string, exists: (relativePath: string) => boolean): string[] {
  const links: string[] = [];
  for (const line of listFull.split('\n').map((l) => l.trim())) {
    if (
      line === '' ||
      line.startsWith('/') ||
      line.split('/').some((part) => part === '' || part === '.' || part === '..')
    )
      continue;
    const name = path.posix.basename(line);
    if (name === 'busybox' || COMMAND_DIRS.some((dir) => exists(`${dir}/${name}`))) continue;
    links.push(line);
  }
  return links;
}

/** The cached root, made first when missing (a few hundred MB, ~30 s of downloads). */
export function ensureAarch64Root(cacheDir = DEFAULT_CACHE_DIR, log: (line: string) => void = () => {}): string {
  const root = rootDirectory(cacheDir);
  if (existsSync(path.join(root, '.complete'))) return root;
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${root}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  log(`making the arm64 root with mmdebstrap (${ROOT_PACKAGES.join(', ')}) in ${partial}`);
  try {
    run('mmdebstrap', mmdebstrapArguments(partial), 20 * 60_000, 'mmdebstrap');
    for (const dir of MOUNT_POINTS) mkdirSync(path.join(partial, dir), { recursive: true });
    // modules.dep is written by the kernel package's postinst, which extraction skips; the
    // machine's depmod reads arm64 modules as well.
    for (const release of readdirSync(path.join(partial, 'lib', 'modules'))) {
      run('depmod', ['-b', partial, release], 120_000, 'kmod');
    }
    // The arm64 busybox is static: qemu-user runs it here without binfmt_misc.
    const listFull = run(
      'qemu-aarch64-static',
      [path.join(partial, 'bin', 'busybox'), '--list-full'],
      60_000,
      'qemu-user-static',
    );
    const present = (relative: string): boolean => lexists(path.join(partial, relative));
    for (const link of busyboxLinks(listFull, present)) {
      mkdirSync(path.dirname(path.join(partial, link)), { recursive: true });
      symlinkSync('/bin/busybox', path.join(partial, link));
    }
    writeFileSync(path.join(partial, '.complete'), `${new Date().toISOString()}\n`);
    if (existsSync(path.join(root, '.complete'))) {
      rmSync(partial, { recursive: true, force: true }); // Another run finished one meanwhile.
    } else {
      rmSync(root, { recursive: true, force: true }); // An unfinished one, never in use.
      renameSync(partial, root);
    }
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  return root;
}

function lexists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: readonly string[], timeoutMs: number, debianPackage: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `${command} not found (install the Debian package ${debianPackage})`
        : `${command} failed: ${result.error.message}`,
    );
  }
  if (result.status !== 0) {
    throw new Error(
      `${command} exited with ${result.status ?? result.signal}: ${result.stderr.trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  return result.stdout;
}

export const EM_AARCH64 = 183;

/** The ELF machine (e_machine) in a file's first 20 bytes, or undefined when it is not ELF. */
export function elfMachine(header: Buffer): number | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
}

/** The root's newest kernel that routes multicast (CONFIG_IP_MROUTE=y), with its modules. */
export function findAarch64Kernel(root: string): GuestKernel {
  try {
    return findGuestKernel(root);
  } catch {
    throw new Error(
      `the arm64 root ${root} has no kernel with CONFIG_IP_MROUTE=y and its modules` +
        ' (delete it to have it made again)',
    );
  }
}

export interface Aarch64Run {
  readonly argv: readonly string[];
  /** Files copied into the share (the guest's /vmshare) under the given names. */
  readonly files?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly onOutput?: (text: string) => void;
  readonly cacheDir?: string;
  readonly cpus?: number;
  readonly memoryMiB?: number;
  readonly log?: (line: string) => void;
}

export interface Aarch64Result {
  /** The command's exit status; null when none came back. */
  readonly status: number | null;
  /** Why no status came back (empty when one did). */
  readonly failure: string;
  readonly kernel: GuestKernel;
  /** From the start of the qemu process to its end. */
  readonly vmSeconds: number;
}

/** Boots the aarch64 VM, runs argv (cwd /) in it and returns its exit status. */
export async function runInAarch64Vm(request: Aarch64Run): Promise<Aarch64Result> {
  const root = ensureAarch64Root(request.cacheDir, request.log);
  const kernel = findAarch64Kernel(root);
  const shareDir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-vm-aarch64-'));
  try {
    const initrd = path.join(shareDir, 'initramfs.cpio');
    writeFileSync(
      initrd,
      buildInitramfs({ modulesDir: kernel.modulesDir, busybox: path.join(root, 'bin', 'busybox') }),
    );
    copyFileSync(STAGE2_SCRIPT, path.join(shareDir, 'stage2.sh'));
    for (const [name, source] of Object.entries(request.files ?? {})) copyFileSync(source, path.join(shareDir, name));
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...request.env };
    writeFileSync(path.join(shareDir, 'command.sh'), commandScript(request.argv, '/', env));
    const started = Date.now();
    const outcome = await runQemu(
      {
        arch: 'aarch64',
        rootDir: root,
        kernel: kernel.image,
        initrd,
        shareDir,
        accel: 'tcg',
        cpus: request.cpus ?? 2,
        memoryMiB: request.memoryMiB ?? 2048,
      },
      request.timeoutMs,
      request.onOutput ?? ((text) => process.stdout.write(text)),
    );
    const vmSeconds = (Date.now() - started) / 1000;
    const statusFile = path.join(shareDir, 'status');
    const status = existsSync(statusFile) ? Number.parseInt(readFileSync(statusFile, 'utf8'), 10) : null;
    const failure =
      status !== null
        ? ''
        : outcome.timedOut
          ? `the VM did not finish within ${Math.round(request.timeoutMs / 1000)} s (killed)`
          : `the VM ended without the command's exit status (qemu exit ${outcome.exitCode}${outcome.stderrTail === '' ? '' : `: ${outcome.stderrTail}`})`;
    return { status, failure, kernel, vmSeconds };
  } finally {
    rmSync(shareDir, { recursive: true, force: true });
  }
}
