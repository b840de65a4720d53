// All the reading `igmpproxy diagnose` does, in one place: the configuration, the pidfile,
// the daemon's status document (asked for with SIGUSR1, the only signal sent), /proc and
// /sys, `iptables -S`, and two samples of the kernel's multicast route counters. Paths,
// the clock and the external commands are injected so tests can point at a fake root.
// Nothing here throws for a missing or unreadable input: it becomes a Result with a reason.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfigFile } from '../config/load.ts';
import { formatDiagnostic } from '../config/types.ts';
import { buildInterfaceTable, hasCarrier, readSysInterfaces } from '../kernel/interfaces.ts';
import type { NetworkInterfaceMap } from '../kernel/interfaces.ts';
import { parseMfcCache, parseVifStats } from '../kernel/mfc-stats.ts';
import { lookupRoute } from '../kernel/route-lookup.ts';
import type { RouteAnswer } from '../kernel/route-lookup.ts';
import { loadOwnShim } from '../kernel/shim.ts';
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import { isSingleBinary } from '../single-binary.ts';
import { readPidfile } from '../runtime/pidfile.ts';
import { STATUS_SCHEMA } from '../runtime/status.ts';
import type { StatusDocument } from '../runtime/status.ts';
import { WEB_PAGE_MARK } from './facts.ts';
import type { ConfigFacts, DaemonFacts, Facts, InterfaceFacts, KernelRouteSample } from './facts.ts';
import { streamSources } from './reverse-path.ts';
import type { RoutesBack } from './reverse-path.ts';
import { errorMessage } from '../error-message.ts';
import type { Result } from '../result.ts';

export interface GatherOptions {
  readonly configPath: string;
  readonly pidfile: string;
  readonly statusFile: string;
  /** Where /proc is (default /proc). */
  readonly proc?: string;
  /** Where /sys/class/net is. */
  readonly sysClassNet?: string;
  readonly addresses?: () => NetworkInterfaceMap;
  /** `iptables -S` of the filter table. */
  readonly readFirewall?: () => Promise<Result<string>>;
  /** Asks the daemon for its status (SIGUSR1). */
  readonly requestStatus?: (pid: number) => void;
  /** Time between the two counter samples (default 1000 ms). */
  readonly sampleIntervalMs?: number;
  /** How long the daemon has to write its status (default 5000 ms). */
  readonly statusTimeoutMs?: number;
  readonly monotonicMs?: () => number;
  /** Asks the kernel for the route to an address (default: RTM_GETROUTE through the native shim). */
  readonly lookupRoute?: (address: Ipv4) => Promise<RouteAnswer>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const POLL_MS = 50;

function readText(file: string): Result<string> {
  try {
    return { ok: true, value: readFileSync(file, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${errorMessage(error)}`,
    };
  }
}

export async function gatherFacts(options: GatherOptions): Promise<Facts> {
  const proc = options.proc ?? '/proc';
  const monotonic = options.monotonicMs ?? (() => performance.now());
  const config = await readConfig(options.configPath);
  const loaded = config.loaded;

  const mrVif = readText(`${proc}/net/ip_mr_vif`);
  const kernelVifs = mrVif.ok ? parseVifStats(mrVif.value) : [];
  // The samples run while the daemon writes its status.
  const sampling = sampleRoutes(proc, options.sampleIntervalMs ?? 1000, monotonic);
  const daemon = await readDaemon(options, proc);
  const samples = await sampling;

  const status = daemon.status?.ok ? daemon.status.value : undefined;
  const names = new Set<string>(
    loaded.ok
      ? loaded.config.interfaces.filter((i) => i.role === 'upstream').map((i) => i.name)
      : (status?.proxy.upstreams.map((u) => u.name) ?? []),
  );
  const interfaces = readInterfaceFacts(
    [...names],
    proc,
    options.sysClassNet ?? '/sys/class/net',
    options.addresses ?? networkInterfaces,
  );
  const sources = [...names].flatMap((name) => streamSources(loaded.ok ? loaded.config : undefined, status, name));
  const routesBack = await askRoutesBack(
    [...new Set(sources.map((source) => source.address))],
    options.lookupRoute ?? shimLookup,
    options.sysClassNet ?? '/sys/class/net',
  );
  return {
    config,
    multicastRouting: mrVif.ok,
    kernelVifs,
    daemon,
    interfaces,
    rpFilterAll: readNumber(`${proc}/sys/net/ipv4/conf/all/rp_filter`),
    routesBack,
    firewall: await (options.readFirewall ?? readIptables)(),
    samples,
  };
}

/** The native shim, loaded only when there is something to ask (as the daemon loads it). */
function shimLookup(address: Ipv4): Promise<RouteAnswer> {
  return lookupRoute(loadOwnShim(isSingleBinary()), address);
}

/** The kernel's route back to each address, by the name of the interface it leaves by. */
async function askRoutesBack(
  addresses: readonly Ipv4[],
  lookup: (address: Ipv4) => Promise<RouteAnswer>,
  sysClassNet: string,
): Promise<Result<RoutesBack>> {
  const answers = new Map<Ipv4, string | null>();
  if (addresses.length === 0) return { ok: true, value: answers };
  let names: ReadonlyMap<number, string>;
  try {
    names = new Map(readSysInterfaces(sysClassNet).map((iface) => [iface.ifindex, iface.name]));
  } catch (error) {
    return { ok: false, reason: `cannot read ${sysClassNet}: ${errorMessage(error)}` };
  }
  for (const address of addresses) {
    let answer: RouteAnswer;
    try {
      answer = await lookup(address);
    } catch (error) {
      return {
        ok: false,
        reason: `cannot ask the kernel for the route to ${formatIpv4(address)}: ${errorMessage(error)}`,
      };
    }
    // Any refusal (ENETUNREACH, EHOSTUNREACH, …) means no route back, as for the daemon.
    answers.set(address, answer.ok ? (names.get(answer.outIfindex) ?? `ifindex ${answer.outIfindex}`) : null);
  }
  return { ok: true, value: answers };
}

async function readConfig(configPath: string): Promise<ConfigFacts> {
  const file = path.resolve(configPath);
  const result = loadConfigFile(file);
  let modifiedAtMs: number | undefined;
  try {
    modifiedAtMs = statSync(file).mtimeMs;
  } catch {
    modifiedAtMs = undefined;
  }
  const text = readText(file);
  return {
    path: file,
    writtenByWebPage: text.ok && text.value.startsWith(WEB_PAGE_MARK),
    loaded: result.ok
      ? { ok: true, config: result.config, warnings: result.warnings.map(formatDiagnostic) }
      : { ok: false, errors: result.errors.map(formatDiagnostic) },
    modifiedAtMs,
  };
}

async function readDaemon(options: GatherOptions, proc: string): Promise<DaemonFacts> {
  const pid = readPidfile(options.pidfile);
  const comm = pid === undefined ? undefined : readText(`${proc}/${pid}/comm`);
  // The daemon names itself igmpproxy: a pidfile whose pid was reused is not trusted.
  const running = comm?.ok === true && comm.value.trim() === 'igmpproxy';
  if (pid === undefined || !running) return { pidfile: options.pidfile, pid, running, status: undefined };
  const status = await requestStatus(options, pid);
  return { pidfile: options.pidfile, pid, running, status };
}

function modifiedAt(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** SIGUSR1, then waits (bounded) for a new status file. */
async function requestStatus(options: GatherOptions, pid: number): Promise<Result<StatusDocument>> {
  const file = options.statusFile;
  const before = modifiedAt(file);
  try {
    (options.requestStatus ?? ((target: number) => process.kill(target, 'SIGUSR1')))(pid);
  } catch (error) {
    return { ok: false, reason: `cannot signal pid ${pid}: ${errorMessage(error)}` };
  }
  const timeoutMs = options.statusTimeoutMs ?? 5000;
  for (let waited = 0; waited <= timeoutMs; waited += POLL_MS) {
    const now = modifiedAt(file);
    if (now !== undefined && now !== before) {
      const parsed = parseStatus(file);
      // A rename is atomic, but the mtime may be seen before the rename on some filesystems: retry once.
      if (parsed.ok) return parsed;
      await sleep(POLL_MS);
      return parseStatus(file);
    }
    await sleep(POLL_MS);
  }
  return { ok: false, reason: `it did not write ${file} within ${timeoutMs / 1000} s of SIGUSR1` };
}

function parseStatus(file: string): Result<StatusDocument> {
  const text = readText(file);
  if (!text.ok) return text;
  let document: unknown;
  try {
    document = JSON.parse(text.value);
  } catch {
    return { ok: false, reason: `${file} is not JSON` };
  }
  const candidate = document as Partial<StatusDocument> | null;
  if (candidate?.schema !== STATUS_SCHEMA) {
    return {
      ok: false,
      reason: `${file} has status format ${String(candidate?.schema)}, this diagnose reads ${STATUS_SCHEMA}`,
    };
  }
  const proxy = candidate.proxy;
  if (
    typeof proxy !== 'object' ||
    proxy === null ||
    !Array.isArray(proxy.upstreams) ||
    !Array.isArray(proxy.downstreams) ||
    !Array.isArray(candidate.kernelRoutes) ||
    typeof candidate.configFile !== 'string'
  ) {
    return { ok: false, reason: `${file} lacks fields of status format ${STATUS_SCHEMA}` };
  }
  return { ok: true, value: candidate as StatusDocument };
}

async function sampleRoutes(
  proc: string,
  intervalMs: number,
  monotonic: () => number,
): Promise<readonly [KernelRouteSample, KernelRouteSample] | undefined> {
  const take = (): KernelRouteSample | undefined => {
    const text = readText(`${proc}/net/ip_mr_cache`);
    return text.ok ? { at: monotonic(), routes: parseMfcCache(text.value) } : undefined;
  };
  const first = take();
  if (first === undefined) return undefined;
  await sleep(intervalMs);
  const second = take();
  return second === undefined ? undefined : [first, second];
}

function readNumber(file: string): number | undefined {
  const text = readText(file);
  if (!text.ok || !/^\s*-?\d+\s*$/.test(text.value)) return undefined;
  return Number(text.value);
}

/** A name that is safe as one path component below /proc/sys and /sys/class/net. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}

function readInterfaceFacts(
  names: readonly string[],
  proc: string,
  sysClassNet: string,
  addresses: () => NetworkInterfaceMap,
): Map<string, InterfaceFacts> {
  let table: ReturnType<typeof buildInterfaceTable> = [];
  try {
    table = buildInterfaceTable(readSysInterfaces(sysClassNet), addresses());
  } catch {
    table = [];
  }
  const result = new Map<string, InterfaceFacts>();
  for (const name of names) {
    const entry = table.find((i) => i.name === name);
    result.set(name, {
      name,
      exists: entry !== undefined,
      up: entry?.up ?? false,
      carrier: entry && safeName(name) ? hasCarrier(name, sysClassNet) : undefined,
      multicast: entry?.multicast ?? false,
      addresses: entry?.addresses.map((a) => `${formatIpv4(a.address)}/${a.prefixLength}`) ?? [],
      rpFilter: safeName(name) ? readNumber(`${proc}/sys/net/ipv4/conf/${name}/rp_filter`) : undefined,
    });
  }
  return result;
}

/** `iptables -w -t filter -S`, as an argument vector; IPFire's iptables lives in /sbin. */
export function readIptables(timeoutMs = 10_000): Promise<Result<string>> {
  const env = {
    ...process.env,
    PATH: `${process.env.PATH ? `${process.env.PATH}:` : ''}/sbin:/usr/sbin:/bin:/usr/bin`,
    LC_ALL: 'C',
  };
  return new Promise((resolve) => {
    execFile(
      'iptables',
      ['-w', '-t', 'filter', '-S'],
      { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, value: stdout });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          return resolve({ ok: false, reason: 'iptables is not installed (not found in PATH, /sbin or /usr/sbin)' });
        const said = String(stderr).trim().split('\n')[0];
        resolve({ ok: false, reason: `iptables -S failed${said ? `: ${said}` : ` (${error.message})`}` });
      },
    );
  });
}
