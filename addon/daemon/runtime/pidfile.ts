// /var/run/igmpproxy.pid: what IPFire's loadproc/killproc/statusproc read.
import { readFileSync, unlinkSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.ts';

export const DEFAULT_PIDFILE = '/var/run/igmpproxy.pid';

/** The pid recorded in a pidfile, if the file exists and holds a positive integer. */
export function readPidfile(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^\s*([0-9]{1,10})\s*$/.exec(text);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return pid > 0 ? pid : undefined;
}

/** True when a process with this pid exists (signal 0 probes without sending). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether /proc says the pid is an igmpproxy (so a stale pidfile whose pid was reused is not trusted). */
export function isIgmpproxyProcess(pid: number): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    // The daemon names itself igmpproxy (process.title) also when run from source.
    return comm === 'igmpproxy';
  } catch {
    return false;
  }
}

/** Another live igmpproxy holds the pidfile. */
export class PidfileInUseError extends Error {
  constructor(pid: number, file: string) {
    super(`another igmpproxy is running with pid ${pid} (${file}); stop it first (/etc/rc.d/init.d/igmpproxy stop)`);
    this.name = 'PidfileInUseError';
  }
}

/**
 * Writes our pid atomically (temp file + rename) so a reader never sees a half-written file.
 * Refuses when another live igmpproxy already holds the file.
 */
export function writePidfile(file: string, pid: number = process.pid): void {
  const existing = readPidfile(file);
  if (existing !== undefined && existing !== pid && processExists(existing) && isIgmpproxyProcess(existing)) {
    throw new PidfileInUseError(existing, file);
  }
  writeFileAtomic(file, `${pid}\n`);
}

/** Removes the pidfile only when it still names us. */
export function removePidfile(file: string, pid: number = process.pid): void {
  if (readPidfile(file) !== pid) return;
  try {
    unlinkSync(file);
  } catch {
    // Already gone: nothing to do.
  }
}
