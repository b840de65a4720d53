// Network-namespace lab for tests that need a real kernel: namespaces, veth pairs,
// bridges, addresses, sysctls, and processes running inside (via `ip netns exec`).
//
//   const support = checkNetnsSupport('ipk4');          // root + iproute2 + netns?
//   describe.skipIf(!support.available)('...', () => {
//     const lab = new NetnsLab('ipk4');
//     afterAll(() => lab.cleanup());
//     const ns = await lab.createNamespace('proxy');    // "ipk4-<pid>-<n>-proxy", lo up
//     await lab.connect(ns, 'ipk4dn', client, 'ipk4c0'); // veth pair across namespaces
//     await ns.addAddress('ipk4dn', '10.2.0.1/24'); await ns.up('ipk4dn');
//     const child = ns.spawn(['node', 'driver.ts']);     // JSON lines on stdin/stdout
//     await child.waitForLine((l) => l.includes('ready'), 5_000);
//   });
//
// Rules it enforces: every namespace and interface name starts with the lab's prefix
// (namespaces also carry the pid and a counter, so parallel test files and helpers never
// collide); veth ends are created directly inside their namespaces, so nothing ever
// appears in the host's namespace; cleanup() — and, as a safety net, process exit and
// SIGINT/SIGTERM — kills the processes the lab started and deletes exactly the
// namespaces it created. Every wait is bounded in time; the bounds given here are a native
// machine's and are stretched by the run's slowdown (scripts/lab/slowdown.ts) in one
// place, these primitives, so no caller has to.
import { spawn, spawnSync, execFile } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { scaled } from './slowdown.ts';

export interface NetnsSupport {
  readonly available: boolean;
  /** Why the lab cannot run here (empty when available). */
  readonly reason: string;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const IFNAMSIZ_MAX = 15;
const COMMAND_TIMEOUT_MS = 15_000;
const liveLabs = new Set<NetnsLab>();
let exitHooksInstalled = false;
let namespaceCounter = 0;

/**
 * Checks, once and synchronously, that namespaces can be made here: root, `ip` present,
 * and a probe namespace (named with the prefix) can be added and deleted.
 */
export function checkNetnsSupport(prefix: string): NetnsSupport {
  validatePrefix(prefix);
  if (process.getuid?.() !== 0) return { available: false, reason: 'not running as root' };
  const version = spawnSync('ip', ['-V'], { encoding: 'utf8', timeout: 5_000 });
  if (version.error || version.status !== 0) return { available: false, reason: 'iproute2 "ip" is not installed' };
  const probe = `${prefix}-${process.pid}-probe`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 5_000 });
  if (added.status !== 0) {
    return {
      available: false,
      reason: `cannot create a network namespace: ${added.stderr.trim() || added.error?.message}`,
    };
  }
  spawnSync('ip', ['netns', 'del', probe], { timeout: 5_000 });
  return { available: true, reason: '' };
}

/** Runs a command with a time bound; never throws for a non-zero exit. */
export function execBounded(argv: readonly string[], nativeTimeoutMs = COMMAND_TIMEOUT_MS): Promise<ExecResult> {
  const timeoutMs = scaled(nativeTimeoutMs);
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : error.killed ? 124 : 127;
        resolve({ code, stdout, stderr: error !== null && stderr === '' ? error.message : stderr });
      },
    );
  });
}

async function mustRun(argv: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await execBounded(argv, timeoutMs);
  if (result.code !== 0) throw new Error(`"${argv.join(' ')}" exited with ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

function validatePrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix))
    throw new Error(`netns prefix "${prefix}" must be 2-8 lower-case letters/digits`);
}

/** Resolves when `predicate` holds, polling every `intervalMs`; rejects after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  nativeTimeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const timeoutMs = scaled(nativeTimeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / intervalMs) + 1; attempt++) {
    if (await predicate()) return;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A process started inside a namespace, read as lines (stdout) and fed lines (stdin). */
export class NetnsProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every stdout line so far, in order. */
  readonly lines: string[] = [];
  /** Tail of stderr, for error messages. */
  stderr = '';
  private readonly waiters = new Set<() => void>();
  private exitCode: number | null | undefined;

  constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8_000);
    });
    child.on('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : 1);
      this.wake();
    });
    child.on('error', (error) => {
      this.stderr += `\n${error.message}`;
      this.exitCode = 127;
      this.wake();
    });
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Writes one line to the process's stdin (objects as JSON). */
  send(message: unknown): void {
    this.child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /**
   * Waits for the first line (from index `from` on) that satisfies `predicate`; rejects
   * after `timeoutMs` or when the process exits first. Returns the line and its index.
   */
  waitForLine(
    predicate: (line: string) => boolean,
    nativeTimeoutMs: number,
    from = 0,
  ): Promise<{ line: string; index: number }> {
    const timeoutMs = scaled(nativeTimeoutMs);
    return new Promise((resolve, reject) => {
      let scanned = from;
      const check = (): void => {
        for (; scanned < this.lines.length; scanned++) {
          const line = this.lines[scanned] as string;
          if (predicate(line)) return finish(undefined, { line, index: scanned });
        }
        if (this.exited)
          finish(new Error(`process exited (${this.exitCode}) before the expected line; stderr: ${this.stderr}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for a line; stderr: ${this.stderr}`)),
        timeoutMs,
      );
      const finish = (error: Error | undefined, value?: { line: string; index: number }): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve(value as { line: string; index: number });
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Like waitForLine for JSON lines: the first parsed object that matches. */
  async waitForJson<T = Record<string, unknown>>(
    predicate: (value: T) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<T & { index: number }> {
    const parse = (line: string): T | undefined => {
      try {
        return JSON.parse(line) as T;
      } catch {
        return undefined;
      }
    };
    const { line, index } = await this.waitForLine(
      (text) => {
        const value = parse(text);
        return value !== undefined && predicate(value);
      },
      timeoutMs,
      from,
    );
    return { ...(parse(line) as T), index };
  }

  /** Closes stdin and waits (bounded) for exit, then kills it (SIGKILL, by its pid). */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    const exited = new Promise<void>((resolve) => this.waiters.add(() => this.exited && resolve()));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, scaled(graceMs)).unref());
    await Promise.race([exited, timeout]);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** One namespace of a lab. Interface names must start with the lab's prefix. */
export class Netns {
  readonly name: string;
  private readonly lab: NetnsLab;

  constructor(lab: NetnsLab, name: string) {
    this.lab = lab;
    this.name = name;
  }

  /** Runs argv inside the namespace; resolves with code/stdout/stderr, never throws on exit code. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<ExecResult> {
    return execBounded(['ip', 'netns', 'exec', this.name, ...argv], timeoutMs);
  }

  /** Runs argv inside the namespace; throws with stderr on a non-zero exit. Returns stdout. */
  run(argv: readonly string[], timeoutMs?: number): Promise<string> {
    return mustRun(['ip', 'netns', 'exec', this.name, ...argv], timeoutMs);
  }

  /** `ip -n <ns> ...args` */
  ip(...args: string[]): Promise<string> {
    return mustRun(['ip', '-n', this.name, ...args]);
  }

  async up(ifname: string): Promise<void> {
    await this.ip('link', 'set', 'dev', ifname, 'up');
  }

  async addAddress(ifname: string, cidr: string): Promise<void> {
    await this.ip('-4', 'address', 'add', cidr, 'dev', ifname);
  }

  /** Sets a sysctl inside the namespace, e.g. ('net.ipv4.conf.ipk4c0.force_igmp_version', 2). */
  async sysctl(key: string, value: string | number): Promise<void> {
    await this.run(['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  async readSysctl(key: string): Promise<string> {
    return (await this.run(['sysctl', '-n', key])).trim();
  }

  /** The interface's ifindex inside this namespace. */
  async ifindex(ifname: string): Promise<number> {
    const [link] = JSON.parse(await this.ip('-j', 'link', 'show', 'dev', ifname)) as { ifindex: number }[];
    if (!link) throw new Error(`no interface ${ifname} in ${this.name}`);
    return link.ifindex;
  }

  /** Creates a bridge (named with the prefix) and enslaves the given ports; all set up. */
  async bridge(name: string, ports: readonly string[]): Promise<void> {
    this.lab.checkInterfaceName(name);
    await this.ip('link', 'add', name, 'type', 'bridge');
    for (const port of ports) {
      await this.ip('link', 'set', 'dev', port, 'master', name);
      await this.up(port);
    }
    await this.up(name);
  }

  /** Deletes an interface of this namespace (a veth end takes its peer with it). */
  async deleteLink(ifname: string): Promise<void> {
    await this.ip('link', 'del', 'dev', ifname);
  }

  /** Starts a long-running process inside the namespace; the lab stops it at cleanup. */
  spawn(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): NetnsProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const handle = new NetnsProcess(child);
    this.lab.track(handle);
    return handle;
  }
}

/** A set of namespaces made by one test file; see the module comment. */
export class NetnsLab {
  readonly prefix: string;
  private readonly namespaces: Netns[] = [];
  private readonly processes: NetnsProcess[] = [];

  constructor(prefix: string) {
    validatePrefix(prefix);
    this.prefix = prefix;
    installExitHooks();
    liveLabs.add(this);
  }

  /** Creates "<prefix>-<pid>-<n>-<role>" with loopback up. */
  async createNamespace(role: string): Promise<Netns> {
    if (!/^[a-z0-9]{1,12}$/.test(role))
      throw new Error(`namespace role "${role}" must be 1-12 lower-case letters/digits`);
    const name = `${this.prefix}-${process.pid}-${++namespaceCounter}-${role}`;
    if (existsSync(`/run/netns/${name}`)) throw new Error(`namespace ${name} already exists`);
    await mustRun(['ip', 'netns', 'add', name]);
    const namespace = new Netns(this, name);
    this.namespaces.push(namespace);
    await namespace.up('lo');
    return namespace;
  }

  /**
   * Creates a veth pair with one end in each namespace (created inside `a`, the peer moved
   * straight into `b`), both ends down; returns nothing to clean: deleting `a` removes both.
   */
  async connect(a: Netns, aName: string, b: Netns, bName: string): Promise<void> {
    this.checkInterfaceName(aName);
    this.checkInterfaceName(bName);
    await a.ip('link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', b.name);
  }

  checkInterfaceName(name: string): void {
    if (!name.startsWith(this.prefix) || name.length > IFNAMSIZ_MAX || !/^[a-zA-Z0-9_.-]+$/.test(name)) {
      throw new Error(
        `interface name "${name}" must start with "${this.prefix}" and have at most ${IFNAMSIZ_MAX} characters`,
      );
    }
  }

  track(child: NetnsProcess): void {
    this.processes.push(child);
  }

  /** Stops every process the lab started, then deletes every namespace it created. */
  async cleanup(): Promise<void> {
    await Promise.all(this.processes.splice(0).map((child) => child.stop(500)));
    const failures: string[] = [];
    for (const namespace of this.namespaces.splice(0).reverse()) {
      const result = await execBounded(['ip', 'netns', 'del', namespace.name]);
      if (result.code !== 0) failures.push(`${namespace.name}: ${result.stderr.trim()}`);
    }
    liveLabs.delete(this);
    if (failures.length > 0) throw new Error(`could not delete namespaces: ${failures.join('; ')}`);
  }

  /** Synchronous last-resort cleanup for exit hooks. */
  cleanupSync(): void {
    for (const child of this.processes.splice(0)) if (!child.exited) child.child.kill('SIGKILL');
    for (const namespace of this.namespaces.splice(0).reverse()) {
      spawnSync('ip', ['netns', 'del', namespace.name], { timeout: 5_000 });
    }
    liveLabs.delete(this);
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanAll = (): void => {
    for (const lab of [...liveLabs]) lab.cleanupSync();
  };
  process.on('exit', cleanAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanAll();
      process.kill(process.pid, signal); // the listener is gone now: default action
    });
  }
}
