// The JSON-lines plumbing shared by the lab programs (isp, tv) that run inside namespaces:
//   stdin:  {"id":1,"cmd":"join","group":"239.1.1.1"}        one command per line
//   stdout: {"id":1,"ok":true,...} | {"id":1,"ok":false,"message":"..."}  replies
//           {"event":"...","t":<lab clock ms>,...}                        events
// The program exits when stdin closes (the controller went away) or on {"cmd":"exit"}.
import { createInterface } from 'node:readline';
import { monotonicMs } from './clock.ts';

export type Command = Record<string, unknown> & { readonly cmd: string; readonly id?: number };
export type CommandHandler = (
  command: Command,
) => Record<string, unknown> | void | Promise<Record<string, unknown> | void>;

export function emit(event: string, fields: Record<string, unknown> = {}, t = monotonicMs()): void {
  process.stdout.write(`${JSON.stringify({ event, t, ...fields })}\n`);
}

/** Reads commands until stdin ends; each reply carries the command's id. */
export function serveCommands(handlers: Record<string, CommandHandler>, onExit: () => void): void {
  const finish = (): void => {
    onExit();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let command: Command;
    try {
      command = JSON.parse(line) as Command;
    } catch {
      emit('error', { message: `not JSON: ${line.slice(0, 200)}` });
      return;
    }
    if (command.cmd === 'exit') return finish();
    const handler = handlers[command.cmd];
    const reply = (fields: Record<string, unknown>): void => {
      process.stdout.write(`${JSON.stringify({ id: command.id, ...fields })}\n`);
    };
    if (!handler) return reply({ ok: false, message: `unknown command "${command.cmd}"` });
    Promise.resolve()
      .then(() => handler(command))
      .then((result) => reply({ ok: true, ...(result ?? {}) }))
      .catch((error: unknown) => {
        const failure = error as NodeJS.ErrnoException;
        reply({ ok: false, code: failure.code, message: failure.message ?? String(error) });
      });
  });
  lines.on('close', finish);
}

/** Argument helpers: commands carry dotted addresses and plain numbers. */
export function stringField(command: Command, key: string): string {
  const value = command[key];
  if (typeof value !== 'string') throw new Error(`"${key}" must be a string`);
  return value;
}

export function numberField(command: Command, key: string, fallback?: number): number {
  const value = command[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`"${key}" must be a number`);
  return value;
}
