// The boot watchdog's decision (scripts/vm/boot-watch.ts), on a clock the test sets: when
// the guest counts as started, when it counts as stalled and what the reason names, and
// which console text is held back as the boot and which passed on as the command's.
import { describe, expect, it } from 'vitest';
import { BootWatch, COMMAND_STARTS_MARKER } from '../../scripts/vm/boot-watch.ts';

const START = 1_000_000;

describe('BootWatch', () => {
  it('waits for the marker, holds the boot back and passes on what follows it', () => {
    const watch = new BootWatch({ milestone: 'command-starts', deadlineMs: 60_000 }, START);
    expect(watch.feed('test VM: stage 1 (initramfs) starts\ntest VM: stage 2 st', START + 4_000)).toBe('');
    expect(watch.verdict(START + 5_000)).toEqual({ kind: 'waiting', remainingMs: 55_000 });
    expect(watch.feed(`arts\n${COMMAND_STARTS_MARKER}\nhello `, START + 9_000)).toBe('hello ');
    expect(watch.feed('world\n', START + 9_500)).toBe('world\n');
    expect(watch.verdict(START + 120_000)).toEqual({ kind: 'reached', afterMs: 9_000 });
    expect(watch.bootLines()).toEqual([
      '  4.0 s  test VM: stage 1 (initramfs) starts',
      '  4.0 s  test VM: stage 2 starts',
    ]);
  });

  it('finds the marker split over chunks', () => {
    const watch = new BootWatch({ milestone: 'command-starts', deadlineMs: 60_000 }, START);
    expect(watch.feed(COMMAND_STARTS_MARKER.slice(0, 7), START + 1_000)).toBe('');
    expect(watch.feed(`${COMMAND_STARTS_MARKER.slice(7)}\n`, START + 2_000)).toBe('');
    expect(watch.verdict(START + 3_000)).toEqual({ kind: 'reached', afterMs: 2_000 });
    expect(watch.bootLines()).toEqual([]);
  });

  it("with milestone command-output, needs the command's first visible output, not just the marker", () => {
    const watch = new BootWatch({ milestone: 'command-output', deadlineMs: 60_000 }, START);
    watch.feed(`${COMMAND_STARTS_MARKER}\n`, START + 10_000);
    expect(watch.verdict(START + 11_000).kind).toBe('waiting');
    expect(watch.feed('\n  \n', START + 20_000)).toBe('\n  \n');
    expect(watch.verdict(START + 21_000).kind).toBe('waiting');
    watch.feed(' RUN  v5.1.2 /work\n', START + 30_000);
    expect(watch.verdict(START + 600_000)).toEqual({ kind: 'reached', afterMs: 30_000 });
  });

  it('calls a guest stalled at the deadline and names the last line it printed', () => {
    const watch = new BootWatch({ milestone: 'command-starts', deadlineMs: 180_000 }, START);
    watch.feed('test VM: stage 1 (initramfs) starts\ntest VM: stage 2 starts\n\n', START + 5_000);
    expect(watch.verdict(START + 179_999).kind).toBe('waiting');
    expect(watch.verdict(START + 180_000)).toEqual({
      kind: 'stalled',
      reason:
        'the guest did not start the command ("test VM: the command starts") within 180 s; ' +
        'the last it printed: "test VM: stage 2 starts"',
    });
  });

  it('names an unfinished last line, escapes its control characters, and says when there was nothing', () => {
    const silent = new BootWatch({ milestone: 'command-output', deadlineMs: 300_000 }, START);
    expect(silent.verdict(START + 300_000)).toEqual({
      kind: 'stalled',
      reason: 'the guest printed no output of the command within 300 s; the last it printed: nothing',
    });
    const partial = new BootWatch({ milestone: 'command-output', deadlineMs: 300_000 }, START);
    partial.feed('[   42.1] rcu: INFO: rcu_sched \u001b[31mstall', START + 50_000);
    const verdict = partial.verdict(START + 300_000);
    expect(verdict.kind === 'stalled' && verdict.reason).toBe(
      'the guest printed no output of the command within 300 s; ' +
        'the last it printed: "[   42.1] rcu: INFO: rcu_sched \\u001b[31mstall"',
    );
    expect(partial.bootLines()).toEqual([' 50.0 s  [   42.1] rcu: INFO: rcu_sched \u001b[31mstall']);
  });

  it('keeps only the last lines of a long boot', () => {
    const watch = new BootWatch({ milestone: 'command-starts', deadlineMs: 60_000, keepLines: 3 }, START);
    watch.feed('one\ntwo\nthree\nfour\nfive\n', START + 1_500);
    expect(watch.bootLines()).toEqual(['  1.5 s  three', '  1.5 s  four', '  1.5 s  five']);
  });
});
