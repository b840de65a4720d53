// How -h, --version and usage errors reach the terminal: straight to the file descriptor
// and then an immediate exit, with no process.stdout stream (creating it loads Node's
// stream and tty modules) and no heap tear-down: together about 15 ms of a ~70 ms start.
import { writeSync } from 'node:fs';

export interface AnswerIo {
  readonly writeSync: (fd: number, bytes: Uint8Array, offset: number) => number;
  /** The ordinary stream of fd, for what a non-blocking descriptor refused. */
  readonly stream: (fd: 1 | 2) => { write(bytes: Uint8Array): unknown };
  readonly setExitCode: (code: number) => void;
  readonly exit: (code: number) => void;
}

const processIo: AnswerIo = {
  writeSync: (fd, bytes, offset) => writeSync(fd, bytes, offset),
  stream: (fd) => (fd === 1 ? process.stdout : process.stderr),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  exit: (code) => process.exit(code),
};

/**
 * Writes text to fd and exits with code. Should the descriptor refuse a synchronous write
 * (an inherited non-blocking one answering EAGAIN), the rest goes through the stream and
 * Node exits once it is flushed. Any other failure (a closed reader: EPIPE) ends the
 * output silently, as SIGPIPE ends a C program, and the exit code stays.
 */
export function answerAndExit(fd: 1 | 2, text: string, code: number, io: AnswerIo = processIo): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  try {
    // Each pass writes at least one byte or throws; the pass bound is only a guard.
    for (let pass = 0; offset < bytes.length && pass < bytes.length; pass++) offset += io.writeSync(fd, bytes, offset);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
      io.stream(fd).write(bytes.subarray(offset));
      io.setExitCode(code);
      return;
    }
  }
  io.exit(code);
}
