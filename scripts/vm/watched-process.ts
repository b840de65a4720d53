// Runs a process whose stdout is a guest's console (qemu -serial stdio) with a time bound
// and, optionally, the boot watchdog (boot-watch.ts): the process it started, and only
// that one, is killed when the guest does not reach its milestone in time. The command is
// a parameter so the tests can run a silent stand-in instead of qemu.
import { spawn } from 'node:child_process';
import { BootWatch, type BootWatchOptions } from './boot-watch.ts';

export interface ConsoleCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export interface WatchedRun {
  /** The whole run; then SIGKILL. */
  readonly timeoutMs: number;
  /** Receives the console text (without the boot, when watched). */
  readonly onOutput: (text: string) => void;
  /** No watchdog when absent: everything the process prints goes to onOutput. */
  readonly watch?: BootWatchOptions;
  /** Called with the process id once it runs (for the tests). */
  readonly onSpawn?: (pid: number) => void;
}

export interface WatchedOutcome {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** Why the watchdog killed the process; absent when it did not. */
  readonly stalled?: string;
  /** From the start to the milestone; absent when it was not reached (or not watched). */
  readonly milestoneMs?: number;
  /** The guest's console before the command started (empty when not watched). */
  readonly bootLines: readonly string[];
  /** The last lines the process printed on stderr (qemu's own errors). */
  readonly stderrTail: string;
}

export function runWatchedProcess(command: ConsoleCommand, run: WatchedRun): Promise<WatchedOutcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const watch = run.watch === undefined ? undefined : new BootWatch(run.watch, started);
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) run.onSpawn?.(child.pid);
    let stderr = '';
    let timedOut = false;
    let stalled: string | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, run.timeoutMs);
    // The decision is the watch's; this timer only asks it at the deadline (and again if
    // the clock says the deadline is still ahead).
    let watchdog: NodeJS.Timeout | undefined;
    const askWatch = (): void => {
      if (watch === undefined) return;
      const verdict = watch.verdict(Date.now());
      if (verdict.kind === 'waiting') watchdog = setTimeout(askWatch, verdict.remainingMs);
      else if (verdict.kind === 'stalled') {
        stalled = verdict.reason;
        child.kill('SIGKILL');
      }
    };
    if (run.watch !== undefined) watchdog = setTimeout(askWatch, run.watch.deadlineMs);
    const stop = (): void => {
      clearTimeout(timer);
      clearTimeout(watchdog);
    };
    child.stdout.setEncoding('utf8').on('data', (raw: string) => {
      const text = raw.replaceAll('\r', '');
      const passed = watch === undefined ? text : watch.feed(text, Date.now());
      if (passed !== '') run.onOutput(passed);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    child.on('error', (error) => {
      stop();
      reject(error);
    });
    child.on('close', (code) => {
      stop();
      const verdict = watch?.verdict(Date.now());
      resolve({
        exitCode: code,
        timedOut,
        ...(stalled === undefined ? {} : { stalled }),
        ...(verdict?.kind === 'reached' ? { milestoneMs: verdict.afterMs } : {}),
        bootLines: watch?.bootLines() ?? [],
        stderrTail: stderr.trim().split('\n').slice(-5).join('\n'),
      });
    });
  });
}

/**
 * Runs a boot, and once more when the watchdog stopped it (never after a plain timeout or
 * a guest that ended by itself: those are the command's business). The retry gets what is
 * left of the overall time; notice receives one line for the retry, naming the reason.
 */
export async function withOneRetryOnStall(
  boot: (timeoutMs: number) => Promise<WatchedOutcome>,
  timeoutMs: number,
  notice: (line: string) => void,
): Promise<WatchedOutcome & { readonly attempts: number }> {
  const started = Date.now();
  const first = await boot(timeoutMs);
  if (first.stalled === undefined) return { ...first, attempts: 1 };
  const remainingMs = timeoutMs - (Date.now() - started);
  if (remainingMs <= 0) return { ...first, attempts: 1 };
  notice(`test VM: RETRY (booting it once more): ${first.stalled}`);
  return { ...(await boot(remainingMs)), attempts: 2 };
}
