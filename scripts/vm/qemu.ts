// The qemu command line of the test VM, and running it with a time bound. The x86_64 guest
// shares the machine's root, so it runs the machine's own binaries; the aarch64 guest
// (scripts/vm/aarch64.ts) is emulated on a root of arm64 Debian packages.
import { spawn } from 'node:child_process';

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
    // loglevel=1: only emergencies interleave with the command's output; panic=-1 with
    // -no-reboot: a dead PID 1 ends qemu instead of hanging.
    '-append',
    `console=${aarch64 ? 'ttyAMA0' : 'ttyS0'} loglevel=1 panic=-1`,
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

export interface QemuOutcome {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** The last lines qemu itself printed on stderr (its own errors). */
  readonly stderrTail: string;
}

/** Runs qemu until it exits or timeoutMs passes (then SIGKILL); console output goes to onOutput. */
export function runQemu(
  machine: QemuMachine,
  timeoutMs: number,
  onOutput: (text: string) => void,
): Promise<QemuOutcome> {
  return new Promise((resolve, reject) => {
    const { binary, debianPackage, devTask } = QEMU_BINARIES[machine.arch ?? 'x86_64'];
    const child = spawn(binary, qemuArguments(machine), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (text: string) => onOutput(text.replaceAll('\r', '')));
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${binary} not found (install the Debian package ${debianPackage}; scripts/dev.sh ${devTask} does)`,
            )
          : error,
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, stderrTail: stderr.trim().split('\n').slice(-5).join('\n') });
    });
  });
}
