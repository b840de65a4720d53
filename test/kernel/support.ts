// Shared pieces of the kernel tests: the shim built on demand, and a JSON-lines client for
// fixtures/lab-driver.ts running inside a namespace.
import path from 'node:path';
import { buildNativeShim, defaultNativeOutDir } from '../../build/native.ts';
import type { Netns, NetnsProcess } from '../../scripts/lab/netns.ts';
import { pinnedNode, testNode } from '../../scripts/lab/test-node.ts';
import { REPOSITORY_ROOT as repositoryRoot } from '../../build/repository.ts';

export { pinnedNode };

export const NETNS_PREFIX = 'ipk4';
export { repositoryRoot };
const driverScript = path.join(repositoryRoot, 'test', 'kernel', 'fixtures', 'lab-driver.ts');

let shimBuild: Promise<string> | undefined;

/** Builds .cache/native/x64/igmp_shim.node once per test file (fast: ~0.3 s). */
export function ensureShim(): Promise<string> {
  shimBuild ??= buildNativeShim('x64', defaultNativeOutDir('x64'));
  return shimBuild;
}

export type DriverReply = Record<string, unknown> & { ok: boolean; code?: string; message?: string };
export type DriverEvent = Record<string, unknown> & { event: string; index: number };

/** A lab-driver process in one namespace. */
export class LabDriver {
  readonly process: NetnsProcess;
  private nextId = 0;

  private constructor(process: NetnsProcess) {
    this.process = process;
  }

  static async start(namespace: Netns): Promise<LabDriver> {
    const shim = await ensureShim();
    const child = namespace.spawn([...testNode, '--no-warnings', driverScript, shim], { cwd: repositoryRoot });
    await child.waitForJson((value) => value.event === 'ready', 10_000);
    return new LabDriver(child);
  }

  /** Sends a command and waits (bounded) for its reply. */
  async request(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 5_000): Promise<DriverReply> {
    const id = ++this.nextId;
    this.process.send({ id, cmd, ...args });
    return this.process.waitForJson<DriverReply>((value) => value.id === id, timeoutMs);
  }

  /** Like request, but throws when the driver reports a failure. */
  async call(cmd: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<DriverReply> {
    const reply = await this.request(cmd, args, timeoutMs);
    if (!reply.ok) throw new Error(`${cmd} failed: ${reply.code ?? ''} ${reply.message ?? ''}`);
    return reply;
  }

  /** Index of the next line: pass as `from` to wait only for events after this point. */
  get mark(): number {
    return this.process.lines.length;
  }

  /** Waits for an event matching the predicate, from line `from` on. */
  waitForEvent(predicate: (event: DriverEvent) => boolean, timeoutMs: number, from = 0): Promise<DriverEvent> {
    return this.process.waitForJson<DriverEvent>(
      (value) => typeof value.event === 'string' && predicate(value),
      timeoutMs,
      from,
    );
  }

  /** All events so far (from line `from` on) matching the predicate. */
  events(predicate: (event: DriverEvent) => boolean, from = 0): DriverEvent[] {
    const result: DriverEvent[] = [];
    this.process.lines.slice(from).forEach((line, offset) => {
      try {
        const value = JSON.parse(line) as DriverEvent;
        if (typeof value.event === 'string' && predicate(value)) result.push({ ...value, index: from + offset });
      } catch {
        // not JSON: ignore
      }
    });
    return result;
  }
}
