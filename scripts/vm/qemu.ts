// The qemu command line of the test VM, and running it with a time bound. The x86_64 guest
// shares the machine's root, so it runs the machine's own binaries; the aarch64 guest
// (scripts/vm/aarch64.ts) is emulated on a root of arm64 Debian packages.
import type { BootWatchOptions } from './boot-watch.ts';
import { runWatchedProcess, type WatchedOutcome } from './watched-process.ts';

export type Accelerator = 'kvm' | 'tcg';
export type GuestArch = 'x86_64' | 'aarch64';

export interface QemuMachine {
  readonly kernel: string;
  readonly initrd: string;
  readonly shareDir: string; // mounted read-write in the guest at /vmshare
  readonly accel: Accelerator;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** Default x86_64. */
  readonly arch?: GuestArch;
  /** The root the guest mounts read-only (9p tag host); default the machine's own, "/". */
  readonly rootDir?: string;
}

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_BINARIES: Readonly<Record<GuestArch, { binary: string; debianPackage: string; devTask: string }>> = {
  x86_64: { binary: QEMU_BINARY, debianPackage: 'qemu-system-x86', devTask: 'test' },
  aarch64: { binary: 'qemu-system-aarch64', debianPackage: 'qemu-system-arm', devTask: 'test-aarch64' },
};

/**
 * The emulated CPU: every feature TCG has, except x86 memory protection keys. With PKU
 * present V8 guards its JIT pages with pkeys (its "thread isolation"); under TCG the
 * guest's Node then died now and then with "Fatal error … Check failed:
 * it->second.Size() > offset" (V8's JIT page bookkeeping), two daemons in one CI run.
 * Appliances and CI machines run Node natively; the emulator's PKU is not under test.
 */
function tcgCpu(aarch64: boolean): string {
  return aarch64 ? 'max' : 'max,pku=off';
}

/**
 * x86: skip the kernel's boot-time check of the legacy timer interrupt. It counts timer
 * ticks during a busy-wait, which an emulated CPU on a loaded host can miss: one TCG boot
 * here printed "..MP-BIOS bug: 8254 timer not connected to IO-APIC" and rerouted the timer
 * through other paths (the check panics when every path "fails"). qemu's emulated timer is
 * wired correctly; there is nothing to detect.
 */
const X86_TIMER_CHECK_OFF = 'no_timer_check';

export function qemuArguments(machine: QemuMachine): string[] {
  const aarch64 = machine.arch === 'aarch64';
  return [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    // aarch64: the generic "virt" board (PCI, PL011 UART on ttyAMA0); never KVM on this host.
    ...(aarch64 ? ['-M', 'virt'] : []),
    ...(machine.accel === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : ['-accel', 'tcg,thread=multi', '-cpu', tcgCpu(aarch64)]),
    '-smp',
    String(machine.cpus),
    '-m',
    `${machine.memoryMiB}M`,
    '-kernel',
    machine.kernel,
    '-initrd',
    machine.initrd,
    // loglevel=4 while booting: the kernel's errors and warnings (a hung task, an RCU
    // stall, a failed device) reach the boot console the host keeps for a failed boot;
    // stage 2 lowers it to 1 before the command, so only emergencies interleave with the
    // command's output. panic=-1 with -no-reboot: a dead PID 1 ends qemu instead of hanging.
    '-append',
    aarch64 ? 'console=ttyAMA0 loglevel=4 panic=-1' : `console=ttyS0 loglevel=4 panic=-1 ${X86_TIMER_CHECK_OFF}`,
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-virtfs',
    `local,path=${machine.rootDir ?? '/'},mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap`,
    '-virtfs',
    `local,path=${machine.shareDir},mount_tag=share,security_model=passthrough,multidevs=remap`,
  ];
}

export type QemuOutcome = WatchedOutcome;

/**
 * Runs qemu until it exits or timeoutMs passes (then SIGKILL); console output goes to
 * onOutput. With watch, the boot watchdog (boot-watch.ts) kills it when the guest does
 * not reach the milestone in time, and the boot's console is kept back from onOutput.
 */
export async function runQemu(
  machine: QemuMachine,
  timeoutMs: number,
  onOutput: (text: string) => void,
  watch?: BootWatchOptions,
): Promise<QemuOutcome> {
  const { binary, debianPackage, devTask } = QEMU_BINARIES[machine.arch ?? 'x86_64'];
  try {
    return await runWatchedProcess(
      { file: binary, args: qemuArguments(machine) },
      { timeoutMs, onOutput, ...(watch === undefined ? {} : { watch }) },
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(
        `${binary} not found (install the Debian package ${debianPackage}; scripts/dev.sh ${devTask} does)`,
      );
    throw error;
  }
}
