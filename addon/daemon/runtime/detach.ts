// Running in the background without fork(): the foreground process starts a copy of itself
// as a new session leader and waits until that copy says start-up succeeded (or failed) on a
// pipe (fd 3). Only then does it exit — 0 on success — so an initscript's loadproc sees the
// real outcome, as with C igmpproxy's fork-after-init.
// The background copy's side, its report on the pipe, is readiness.ts: this module (and
// node:child_process with it) is loaded only by the foreground process.
import { spawn } from 'node:child_process';
import { DAEMON_CHILD_FLAG } from './daemon-child-flag.ts';
import { READINESS_FD } from './readiness.ts';

/** Environment for our own copy: nothing that could change how the runtime loads code. */
export function cleanEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
  const out: NodeJS.ProcessEnv = {};
  for (const name of keep) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * How to start ourselves again with `extra` before the user's arguments. In a single
 * executable argv[1] repeats the binary; run from source, argv[1] is the script.
 */
export function selfCommand(isSea: boolean, extra: readonly string[]): { file: string; args: string[] } {
  if (isSea) return { file: process.execPath, args: [...extra, ...process.argv.slice(2)] };
  const script = process.argv[1] as string;
  return { file: process.execPath, args: [...process.execArgv, script, ...extra, ...process.argv.slice(2)] };
}

/**
 * Starts the background copy and resolves with the exit code the foreground process should
 * use: 0 once the copy reported readiness, 1 with its error message printed otherwise.
 */
export function startInBackground(isSea: boolean, timeoutMs = 30_000): Promise<number> {
  const { file, args } = selfCommand(isSea, [DAEMON_CHILD_FLAG]);
  const child = spawn(file, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: cleanEnvironment(process.env),
    cwd: '/',
  });
  return new Promise((resolve) => {
    let said = '';
    let settled = false;
    const finish = (code: number, message?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (message) process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
      child.unref();
      (child.stdio[READINESS_FD] as NodeJS.ReadableStream | null)?.removeAllListeners();
      resolve(code);
    };
    const timer = setTimeout(() => finish(1, 'igmpproxy: the daemon did not report start-up in time'), timeoutMs);
    const pipe = child.stdio[READINESS_FD] as NodeJS.ReadableStream | null;
    pipe?.setEncoding('utf8');
    pipe?.on('data', (chunk: string) => {
      said += chunk;
      if (said.length > 8192) said = said.slice(-8192);
    });
    pipe?.on('end', () => {
      if (said.startsWith('ready')) finish(0);
      else finish(1, said.trim() || 'igmpproxy: the daemon exited during start-up');
    });
    child.on('error', (error) => finish(1, `igmpproxy: cannot start the daemon: ${error.message}`));
    child.on('exit', (code) => {
      // The pipe's end event normally comes first; this covers a child that dies silently.
      setTimeout(
        () => finish(said.startsWith('ready') ? 0 : 1, said.trim() || `igmpproxy: the daemon exited with code ${code}`),
        50,
      );
    });
  });
}
