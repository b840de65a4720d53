// The background copy's side of start-up (detach.ts starts it): one message on the pipe at
// fd 3 to the waiting foreground process, "ready" or the failure's lines, then the pipe is
// closed. Written with synchronous fs calls: a write stream would load Node's stream modules
// into the daemon for one line, and an asynchronous fs call would start libuv's thread pool.
// The foreground process reads until the pipe closes, so the write cannot wait for long.
import { closeSync, writeSync } from 'node:fs';

export const READINESS_FD = 3;

/** Tells the waiting foreground process how start-up went. Never throws. */
export function reportStartup(outcome: { ok: true } | { ok: false; message: string }): void {
  const text = Buffer.from(outcome.ok ? 'ready\n' : `${outcome.message}\n`);
  try {
    // A pipe may take less than all at once; an error (no pipe: started by hand) ends it.
    for (let offset = 0; offset < text.length; ) {
      const written = writeSync(READINESS_FD, text, offset);
      if (written <= 0) break;
      offset += written;
    }
  } catch {
    // Nobody waits for the message: nothing to tell.
  }
  try {
    closeSync(READINESS_FD);
  } catch {
    // Already closed or never open.
  }
}
