// The qemu command line of the test VM, and running it with a time bound. x86_64 only:
// the guest shares the machine's root, so it runs the machine's own binaries.
import { spawn } from 'node:child_process';

export type Accelerator = 'kvm' | 'tcg';

export interface QemuMachine {
  readonly kernel: string;
  readonly initrd: string;
  readonly shareDir: string; // mounted read-write in the guest at /vmshare
  readonly accel: Accelerator;
  readonly cpus: number;
  readonly memoryMiB: number;
}

export const QEMU_BINARY = 'qemu-system-x86_64';

export function qemuArguments(machine: QemuMachine): string[] {
  return [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    ...(machine.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(machine.cpus), '-m', `${machine.memoryMiB}M`,
    '-kernel', machine.kernel, '-initrd', machine.initrd,
    // loglevel=1: only emergencies interleave with the command's output; panic=-1 with
    // -no-reboot: a dead PID 1 ends qemu instead of hanging.
    '-append', 'console=ttyS0 loglevel=1 panic=-1',
    '-serial', 'stdio', '-monitor', 'none',
    '-virtfs', 'local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${machine.shareDir},mount_tag=share,security_model=passthrough,multidevs=remap`,
  ];
}

export interface QemuOutcome {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** The last lines qemu itself printed on stderr (its own errors). */
  readonly stderrTail: string;
}

/** Runs qemu until it exits or timeoutMs passes (then SIGKILL); console output goes to onOutput. */
export function runQemu(machine: QemuMachine, timeoutMs: number, onOutput: (text: string) => void): Promise<QemuOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU_BINARY, qemuArguments(machine), { stdio: ['ignore', 'pipe', 'pipe'] });
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
      reject(error.code === 'ENOENT'
        ? new Error(`${QEMU_BINARY} not found (install the Debian package qemu-system-x86; scripts/dev.sh test does)`)
        : error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, stderrTail: stderr.trim().split('\n').slice(-5).join('\n') });
    });
  });
}
