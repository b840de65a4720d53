// Runs a program built for a target architecture on the x86_64 build host: natively for
// x86_64, under qemu-user (Debian qemu-user-static, aarch64 libraries from the
// cross toolchain) for aarch64.
import { spawn } from 'node:child_process';
import { type Arch, NODE_RUNTIMES } from './build-config.ts';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly milliseconds: number;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** The command line that runs program with args on this host. */
export function targetCommand(arch: Arch, program: string, args: readonly string[]): [string, ...string[]] {
  const [launcher, ...launcherArgs] = NODE_RUNTIMES[arch].runPrefix;
  return launcher === undefined ? [program, ...args] : [launcher, ...launcherArgs, program, ...args];
}

/** Runs program to completion and captures its output; never rejects on a non-zero exit. */
export function runOnTarget(
  arch: Arch,
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const [command, ...commandArgs] = targetCommand(arch, program, args);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, commandArgs, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`${command} not found (Debian package qemu-user-static?)`, { cause: error })
          : error,
      );
    });
    child.on('close', (code, signal) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        milliseconds: performance.now() - started,
      });
    });
  });
}
