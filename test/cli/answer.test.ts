// cli/answer.ts: how -h, --version and usage errors are written, with the descriptor's
// behaviour injected (a real non-blocking descriptor that fills up cannot be arranged
// reliably from a test).
import { describe, expect, it } from 'vitest';
import { answerAndExit, type AnswerIo } from '../../addon/daemon/cli/answer.ts';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** Records what reached the descriptor, the stream and the exit; `accept` decides each write. */
function fakeIo(accept: (offset: number, remaining: number) => number | NodeJS.ErrnoException) {
  const written: number[] = [];
  const streamed: number[] = [];
  const outcome: { exit?: number; exitCode?: number } = {};
  const io: AnswerIo = {
    writeSync: (_fd, bytes, offset) => {
      const decision = accept(offset, bytes.length - offset);
      if (typeof decision !== 'number') throw decision;
      written.push(...bytes.subarray(offset, offset + decision));
      return decision;
    },
    stream: () => ({ write: (bytes: Uint8Array) => streamed.push(...bytes) }),
    setExitCode: (code) => {
      outcome.exitCode = code;
    },
    exit: (code) => {
      outcome.exit = code;
    },
  };
  const text = (bytes: number[]) => Buffer.from(bytes).toString('utf8');
  return { io, outcome, written: () => text(written), streamed: () => text(streamed) };
}

describe('answerAndExit', () => {
  it('writes everything, across short writes, then exits with the code', () => {
    const fake = fakeIo((_offset, remaining) => Math.min(3, remaining));
    answerAndExit(1, 'igmpproxy 1.0.0\n', 0, fake.io);
    expect(fake.written()).toBe('igmpproxy 1.0.0\n');
    expect(fake.streamed()).toBe('');
    expect(fake.outcome).toEqual({ exit: 0 });
  });

  it('hands the rest to the stream when a non-blocking descriptor answers EAGAIN, and lets Node drain it', () => {
    const fake = fakeIo((offset, remaining) => (offset < 5 ? Math.min(5, remaining) : errno('EAGAIN')));
    answerAndExit(2, 'usage error: something\n', 1, fake.io);
    expect(fake.written() + fake.streamed()).toBe('usage error: something\n');
    expect(fake.written()).toBe('usage');
    expect(fake.outcome).toEqual({ exitCode: 1 }); // no immediate exit: that would cut the stream short
  });

  it('a closed reader (EPIPE) ends the output silently with the same exit code', () => {
    const fake = fakeIo(() => errno('EPIPE'));
    answerAndExit(1, 'Usage: igmpproxy\n', 0, fake.io);
    expect(fake.written()).toBe('');
    expect(fake.streamed()).toBe('');
    expect(fake.outcome).toEqual({ exit: 0 });
  });
});
