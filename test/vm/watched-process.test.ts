// The boot watchdog's process side (scripts/vm/watched-process.ts) with stand-ins for qemu:
// a silent `sleep` is killed at the deadline and booted once more, then given up; a
// stand-in that prints the marker is neither killed nor retried. Each stand-in would run
// 30 s if nothing killed it; the deadlines are a fraction of a second.
import { describe, expect, it } from 'vitest';
import { COMMAND_STARTS_MARKER } from '../../scripts/vm/boot-watch.ts';
import { runWatchedProcess, withOneRetryOnStall, type WatchedOutcome } from '../../scripts/vm/watched-process.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the boot watchdog on a real process', () => {
  it('kills a silent boot at the deadline, boots it once more, then gives up', { timeout: 20_000 }, async () => {
    const pids: number[] = [];
    const notices: string[] = [];
    const boot = (timeoutMs: number): Promise<WatchedOutcome> =>
      runWatchedProcess(
        // exec: the process started is the one that prints (nothing) and gets killed.
        { file: 'sh', args: ['-c', 'echo "test VM: stage 2 starts"; exec sleep 30'] },
        {
          timeoutMs,
          onOutput: (text) => notices.push(`output: ${text}`),
          watch: { milestone: 'command-starts', deadlineMs: 700 },
          onSpawn: (pid) => pids.push(pid),
        },
      );
    const outcome = await withOneRetryOnStall(boot, 25_000, (line) => notices.push(line));
    expect(outcome.attempts).toBe(2);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(outcome.exitCode).toBeNull();
    expect(outcome.timedOut).toBe(false);
    const reason =
      'the guest did not start the command ("test VM: the command starts") within 1 s; ' +
      'the last it printed: "test VM: stage 2 starts"';
    expect(outcome.stalled).toBe(reason);
    expect(outcome.bootLines.map((line) => line.replace(/^ *[\d.]+ s {2}/, ''))).toEqual(['test VM: stage 2 starts']);
    // The boot's console is held back; the one host line is the retry, with its reason.
    expect(notices).toEqual([`test VM: RETRY (booting it once more): ${reason}`]);
  });

  it('neither kills nor retries a guest that reaches the marker', { timeout: 20_000 }, async () => {
    let output = '';
    const notices: string[] = [];
    const boot = (timeoutMs: number): Promise<WatchedOutcome> =>
      runWatchedProcess(
        {
          file: 'sh',
          args: ['-c', `echo booting; echo '${COMMAND_STARTS_MARKER}'; sleep 3; echo from-command; exit 3`],
        },
        {
          timeoutMs,
          onOutput: (text) => {
            output += text;
          },
          watch: { milestone: 'command-starts', deadlineMs: 1_500 },
        },
      );
    const outcome = await withOneRetryOnStall(boot, 25_000, (line) => notices.push(line));
    expect(outcome).toMatchObject({ attempts: 1, exitCode: 3, timedOut: false });
    expect(outcome.stalled).toBeUndefined();
    expect(outcome.milestoneMs).toBeTypeOf('number');
    expect(output).toBe('from-command\n');
    expect(notices).toEqual([]);
  });

  it('does not retry a boot the overall timeout ended', { timeout: 20_000 }, async () => {
    const notices: string[] = [];
    let boots = 0;
    const boot = (timeoutMs: number): Promise<WatchedOutcome> => {
      boots++;
      return runWatchedProcess({ file: 'sleep', args: ['30'] }, { timeoutMs, onOutput: () => {} });
    };
    const outcome = await withOneRetryOnStall(boot, 500, (line) => notices.push(line));
    expect(outcome).toMatchObject({ attempts: 1, timedOut: true });
    expect(boots).toBe(1);
    expect(notices).toEqual([]);
  });
});
