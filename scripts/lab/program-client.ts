// The controller's side of a lab program (isp-program.ts, tv-program.ts): commands with
// bounded replies, and the program's events read back from its JSON lines.
import type { NetnsProcess } from './netns.ts';

export type LabEvent = Record<string, unknown> & { readonly event: string; readonly t: number; readonly index: number };
export type Reply = Record<string, unknown> & { readonly ok: boolean; readonly message?: string };

const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

export class LabProgram {
  readonly process: NetnsProcess;
  readonly name: string;
  private nextId = 0;

  constructor(name: string, process: NetnsProcess) {
    this.name = name;
    this.process = process;
  }

  /** Line index of what comes next: pass as `from` to look only at later events. */
  get mark(): number {
    return this.process.lines.length;
  }

  /** Sends a command and waits (bounded) for its reply; throws when the program reports a failure. */
  async call(cmd: string, args: Record<string, unknown> = {}, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<Reply> {
    const id = ++this.nextId;
    const from = this.mark;
    this.process.send({ id, cmd, ...args });
    let reply: Reply;
    try {
      reply = await this.process.waitForJson<Reply>((value) => value.id === id, timeoutMs, from);
    } catch (error) {
      throw new Error(`${this.name}: no reply to "${cmd}": ${(error as Error).message}`, { cause: error });
    }
    if (!reply.ok) throw new Error(`${this.name}: "${cmd}" failed: ${reply.message ?? 'unknown error'}`);
    return reply;
  }

  /** Events so far (from line `from` on) that match. */
  events(predicate: (event: LabEvent) => boolean = () => true, from = 0): LabEvent[] {
    const result: LabEvent[] = [];
    const lines = this.process.lines;
    for (let index = from; index < lines.length; index++) {
      const event = parseEvent(lines[index] as string, index);
      if (event && predicate(event)) result.push(event);
    }
    return result;
  }

  /** The first event from line `from` on that matches; rejects after timeoutMs or on exit. */
  async waitForEvent(
    predicate: (event: LabEvent) => boolean,
    timeoutMs: number,
    from = 0,
    what = 'an event',
  ): Promise<LabEvent> {
    try {
      const { line, index } = await this.process.waitForLine(
        (text) => {
          const event = parseEvent(text, 0);
          return event !== undefined && predicate(event);
        },
        timeoutMs,
        from,
      );
      return parseEvent(line, index) as LabEvent;
    } catch (error) {
      throw new Error(`${this.name}: waiting for ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function parseEvent(line: string, index: number): LabEvent | undefined {
  if (!line.startsWith('{"event"')) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return typeof value.event === 'string' && typeof value.t === 'number'
      ? { ...(value as LabEvent), index }
      : undefined;
  } catch {
    return undefined;
  }
}
