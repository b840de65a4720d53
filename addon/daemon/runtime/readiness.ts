// The background copy's side of start-up (detach.ts starts it): one message on the pipe at
// fd 3 to the waiting foreground process, "ready" or the failure's lines, then the pipe is
// closed. Written with plain fs calls: a write stream would load Node's stream modules into
// the daemon for one line.
import { close, write } from 'node:fs';

export const READINESS_FD = 3;

/** Tells the waiting foreground process how start-up went. Never rejects. */
export function reportStartup(outcome: { ok: true } | { ok: false; message: string }): Promise<void> {
  const text = Buffer.from(outcome.ok ? 'ready\n' : `${outcome.message}\n`);
  return new Promise((resolve) => {
    const finish = (): void => close(READINESS_FD, () => resolve());
    const from = (offset: number): void => {
      // A pipe may take less than all at once; an error (no pipe: started by hand) ends it.
      write(READINESS_FD, text, offset, text.length - offset, null, (error, written) => {
        if (error || offset + written >= text.length) finish();
        else from(offset + written);
      });
    };
    from(0);
  });
}
