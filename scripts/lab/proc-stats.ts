// Resource figures of a process from /proc: CPU time (utime + stime) and anonymous
// resident memory (RssAnon: heap and stacks, without the shared, file-backed binary --
// the figure that grows with the daemon's state).
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks: number | undefined;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/<pid>/stat (100 on Linux). */
export function clockTicksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** Parses utime+stime (ticks) from the text of /proc/<pid>/stat; comm may contain spaces and parentheses. */
export function parseCpuTicks(statText: string): number {
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  // After ") ": state is field 3 of stat(5), so utime (14) and stime (15) sit at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/<pid>/stat');
  return utime + stime;
}

/** kB of a "Key:   1234 kB" line of /proc/<pid>/status, undefined when absent. */
export function parseStatusKb(statusText: string, key: string): number | undefined {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(statusText);
  return match ? Number(match[1]) : undefined;
}

/** CPU seconds in user space and in the kernel (utime, stime of /proc/<pid>/stat). */
export function parseCpuSplit(statText: string): { user: number; system: number } {
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error('malformed /proc/<pid>/stat');
  return { user: user / clockTicksPerSecond(), system: system / clockTicksPerSecond() };
}

export function cpuSplit(pid: number): { user: number; system: number } {
  return parseCpuSplit(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * Datagrams the kernel dropped because a raw IGMP socket's receive queue was full: the sum of
 * the drops column of /proc/net/raw's protocol-2 sockets (in a lab's proxy namespace, the
 * proxy's socket is the one there).
 */
export function parseRawIgmpDrops(procNetRaw: string): number {
  return procNetRaw
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length > 3 && fields[1]?.endsWith(':0002'))
    .reduce((sum, fields) => sum + Number(fields[fields.length - 1]), 0);
}

/**
 * Voluntary context switches of a process's main thread (/proc/<pid>/task/<pid>/status): for
 * an event loop, each is one wait for work, so their rate is how often it woke up.
 */
export function mainThreadWakeUps(pid: number): number | undefined {
  const match = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : undefined;
}

/** utime + stime of a process's main thread alone (/proc/<pid>/task/<pid>/stat): the event loop, without helper threads. */
export function mainThreadCpuSeconds(pid: number): number {
  return parseCpuTicks(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')) / clockTicksPerSecond();
}

export function cpuSeconds(pid: number): number {
  return parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicksPerSecond();
}

export function rssAnonKb(pid: number): number | undefined {
  return parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'RssAnon');
}
