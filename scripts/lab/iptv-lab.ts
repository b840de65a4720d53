// The IPTV lab: a provider, an IGMP proxy's router and TVs, each in its own network
// namespace, so end-to-end tests and the benchmark can drive ANY IGMP proxy binary (ours,
// Debian's C igmpproxy) in the same topology.
//
//   isp ns                         proxy ns                                 tv<i> ns
//   isp-program                    <proxy under test>                       tv-program
//   <p>isp 10.99.0.1/24 ── veth ── <p>up 10.99.0.2/24 (upstream)
//   (+ stream source, e.g.         <p>br 192.168.99.1/24 (downstream bridge)
//    203.0.113.10/32 for altnet)     ├─ <p>p0 ── veth ──────────────────── <p>tv0 192.168.99.10/24
//                                    └─ <p>p1 ── veth ──────────────────── <p>tv1 192.168.99.11/24
//   isp2 ns (secondUpstream)
//   <p>isp2 10.98.0.1/24 ── veth ── <p>up2 10.98.0.2/24 (second upstream)
//
//   const lab = await IptvLab.create({ ispVersion: 3, tvClients: 2 });
//   try {
//     await lab.startProxy({ command: ['/usr/sbin/igmpproxy', '-d', '-vv'], config: lab.proxyConfig() });
//     const join = await lab.tv(0).join('239.1.1.1');
//     const first = await lab.tv(0).waitFirstPacket('239.1.1.1', 5_000);
//   } finally {
//     await lab.dispose();
//   }
//
// Every wait is bounded; dispose() always stops every process and deletes every namespace
// the lab made (NetnsLab also does it on exit and SIGINT/SIGTERM as a safety net).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNativeShim, defaultNativeOutDir } from '../../build/native.ts';
import { NetnsLab, waitUntil } from './netns.ts';
import { pinnedNode, testNode } from './test-node.ts';
import type { Netns, NetnsProcess } from './netns.ts';
import { monotonicMs } from './clock.ts';
import type { IspProgramConfig } from './isp-program.ts';
import { LabProgram } from './program-client.ts';
import type { LabEvent } from './program-client.ts';
import { cpuSeconds, rssAnonKb } from './proc-stats.ts';
import type { TvProgramConfig } from './tv-program.ts';
import { REPOSITORY_ROOT as repositoryRoot } from '../../build/repository.ts';

export const LAB_PREFIX = 'ipe8';
export { repositoryRoot };
/** How the tests start Node programs (lab programs, the daemon from source): see test-node.ts. */
export const labNode: readonly string[] = testNode;
export { pinnedNode };
const programDir = path.dirname(fileURLToPath(import.meta.url));

export const LAB_ADDRESSES = {
  ispLink: '10.99.0.1',
  upstream: '10.99.0.2',
  upstreamSubnet: '10.99.0.0/24',
  isp2Link: '10.98.0.1',
  upstream2: '10.98.0.2',
  upstream2Subnet: '10.98.0.0/24',
  downstream: '192.168.99.1',
  downstreamSubnet: '192.168.99.0/24',
  /** A stream source outside the upstream subnet (TEST-NET-3): needs `altnet` in C igmpproxy. */
  altSource: '203.0.113.10',
  altSourceSubnet: '203.0.113.0/24',
} as const;

export function tvAddress(index: number): string {
  return `192.168.99.${10 + index}`;
}

/** UDP port of every test stream. */
export const STREAM_PORT = 5000;
const READY_TIMEOUT_MS = 15_000;
const MAX_TV_CLIENTS = 16;
/** Joins per socket in tv namespaces (default 20): one TV must be able to watch 500 groups. */
const TV_MAX_MEMBERSHIPS = 1024;

export interface UpstreamOptions {
  /** IGMP version of the provider's querier. Default 3. */
  readonly ispVersion?: 2 | 3;
  /** Source address of the streams; default the isp's link address. Another subnet exercises altnet. */
  readonly sourceAddress?: string;
}

export interface IptvLabOptions extends UpstreamOptions {
  /** Namespace and interface prefix; default "ipe8". */
  readonly prefix?: string;
  /** Number of TV namespaces; default 1. */
  readonly tvClients?: number;
  /** Per TV: force_igmp_version on its interface (2 or 3); missing or undefined = kernel default (v3). */
  readonly tvIgmpVersions?: readonly (2 | 3 | undefined)[];
  /** The isp's general query interval; 0 = none except on command. Default 125 000 (RFC). */
  readonly queryIntervalMs?: number;
  /** Max response time in the isp's queries. Default 2 000. */
  readonly queryResponseMs?: number;
  /** Last member query interval of the isp; default 200 ms (x2). */
  readonly lastMemberQueryMs?: number;
  /** How the isp treats a leave: group-specific queries (default) or stop at once. */
  readonly ispLeaveMode?: 'query' | 'immediate';
  /** Milliseconds between two packets of one group; default 10. */
  readonly packetIntervalMs?: number;
  /** A second upstream link with its own provider (multi-upstream tests). */
  readonly secondUpstream?: boolean | UpstreamOptions;
}

/** In a proxy's argv, replaced by a fresh private directory of that start (pidfiles, state files). */
export const PROXY_TEMP_DIR_TOKEN = '{tmp}';

export interface ProxyStartOptions {
  /**
   * argv of the proxy without the config path, e.g. ['/usr/sbin/igmpproxy', '-d', '-vv'].
   * "{tmp}" in an argument becomes the start's private temp dir: files such as a pidfile
   * must not be shared, since several labs (test files, the bench) may run at once.
   */
  readonly command: readonly string[];
  /** Config text; written to a temp file whose path is appended to the command. */
  readonly config: string;
  /** The proxy must still run this long after start (default 300 ms); 0 skips the check. */
  readonly startupGraceMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface ProxyConfigOptions {
  readonly quickleave?: boolean;
  /** altnet lines of the upstream (default: the alt source's subnet when the lab uses it). */
  readonly altnets?: readonly string[];
  /** Also configure the second upstream (when the lab has one) as upstream; default true. */
  readonly secondUpstream?: boolean;
  /** Text appended at the end (extra phyint lines, …). */
  readonly extra?: string;
}

interface ResolvedOptions {
  readonly prefix: string;
  readonly tvClients: number;
  readonly tvIgmpVersions: readonly (2 | 3 | undefined)[];
  readonly upstreams: readonly Required<UpstreamOptions>[];
  readonly queryIntervalMs: number;
  readonly queryResponseMs: number;
  readonly lastMemberQueryMs: number;
  readonly ispLeaveMode: 'query' | 'immediate';
  readonly packetIntervalMs: number;
}

let shimBuild: Promise<string> | undefined;
/** The native shim the lab programs load, built once per process. */
export function labShim(): Promise<string> {
  shimBuild ??= buildNativeShim('x64', defaultNativeOutDir('x64'));
  return shimBuild;
}

/** Interface names of the lab (all start with the prefix, at most 15 characters). */
export interface LabInterfaces {
  readonly upstream: string;
  readonly upstream2: string;
  readonly bridge: string;
  readonly ispLink: string;
  readonly isp2Link: string;
  tvPort(index: number): string;
  tv(index: number): string;
}

export function labInterfaces(prefix: string): LabInterfaces {
  return {
    upstream: `${prefix}up`,
    upstream2: `${prefix}up2`,
    bridge: `${prefix}br`,
    ispLink: `${prefix}isp`,
    isp2Link: `${prefix}isp2`,
    tvPort: (index) => `${prefix}p${index}`,
    tv: (index) => `${prefix}tv${index}`,
  };
}

/** Starts a lab program in a namespace and checks it shares the controller's clock. */
export async function startLabProgram(
  namespace: Netns,
  name: string,
  script: string,
  config: object,
): Promise<LabProgram> {
  const before = monotonicMs();
  const child = namespace.spawn([...labNode, '--no-warnings', path.join(programDir, script), JSON.stringify(config)], {
    cwd: repositoryRoot,
  });
  const program = new LabProgram(name, child);
  const ready = await program.waitForEvent((event) => event.event === 'ready', READY_TIMEOUT_MS, 0, 'ready');
  const after = monotonicMs();
  if (ready.t < before || ready.t > after) {
    throw new Error(
      `${name}: its clock (${ready.t}) is not the controller's (${before}..${after}); the lab needs one CLOCK_MONOTONIC`,
    );
  }
  return program;
}

/** The provider: its querier, membership table and streams. */
export class IspHandle {
  readonly program: LabProgram;
  readonly sourceAddress: string;

  constructor(program: LabProgram, sourceAddress: string) {
    this.program = program;
    this.sourceAddress = sourceAddress;
  }

  get mark(): number {
    return this.program.mark;
  }

  events(event: string, from = 0, predicate: (value: LabEvent) => boolean = () => true): LabEvent[] {
    return this.program.events((value) => value.event === event && predicate(value), from);
  }

  /** A report (or record) about `group`, of one of `kinds` (default any), from line `from` on. */
  waitForReport(
    group: string,
    options: { kinds?: readonly string[]; from?: number; timeoutMs?: number; source?: string } = {},
  ): Promise<LabEvent> {
    const { kinds, from = 0, timeoutMs = 5_000, source } = options;
    return this.program.waitForEvent(
      (event) =>
        event.event === 'report' &&
        event.group === group &&
        (kinds === undefined || kinds.includes(String(event.kind))) &&
        (source === undefined || event.from === source),
      timeoutMs,
      from,
      `a ${kinds?.join('/') ?? ''} report for ${group}`,
    );
  }

  waitForStart(group: string, from = 0, timeoutMs = 5_000): Promise<LabEvent> {
    return this.program.waitForEvent(
      (event) => event.event === 'start' && event.group === group,
      timeoutMs,
      from,
      `stream start of ${group}`,
    );
  }

  waitForStop(group: string, from = 0, timeoutMs = 5_000): Promise<LabEvent> {
    return this.program.waitForEvent(
      (event) => event.event === 'stop' && event.group === group,
      timeoutMs,
      from,
      `stream stop of ${group}`,
    );
  }

  /** Sends a query now: general (no group) or group-specific; version defaults to the querier's. */
  async query(options: { group?: string; version?: 2 | 3; maxResponseMs?: number } = {}): Promise<void> {
    await this.program.call('query', { ...options });
  }

  async setVersion(version: 2 | 3): Promise<void> {
    await this.program.call('set-version', { version });
  }

  /** The querier's general query interval from now on (sends one at once); 0 silences it. */
  async setQueryInterval(queryIntervalMs: number): Promise<void> {
    await this.program.call('set-query-interval', { queryIntervalMs });
  }

  async setPacketInterval(packetIntervalMs: number): Promise<void> {
    await this.program.call('set-rate', { packetIntervalMs });
  }

  async setLeaveMode(mode: 'query' | 'immediate'): Promise<void> {
    await this.program.call('set-leave-mode', { mode });
  }

  async stopGroup(group: string): Promise<boolean> {
    return (await this.program.call('stop-group', { group })).stopped === true;
  }

  /** Stops sending `group` while keeping its membership (a head-end failure), until resumeGroup. */
  async pauseGroup(group: string): Promise<void> {
    await this.program.call('pause-group', { group });
  }

  async resumeGroup(group: string): Promise<boolean> {
    return (await this.program.call('resume-group', { group })).resumed === true;
  }

  /** Groups with listeners on the link, and packets sent per group since it started. */
  async status(): Promise<{ groups: string[]; sent: Record<string, number>; malformed: number }> {
    const reply = await this.program.call('status');
    return {
      groups: reply.groups as string[],
      sent: reply.sent as Record<string, number>,
      malformed: reply.malformed as number,
    };
  }
}

export interface GroupStats {
  readonly packets: number;
  readonly gaps: number;
  readonly outOfOrder: number;
  /** Skipped sequence numbers that never came (late packets excluded). */
  readonly lost: number;
  readonly joinedAt: number;
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** Longest time between two consecutive packets (ms), and when it ended (lab clock). */
  readonly longestSilenceMs: number;
  readonly longestSilenceEndedAt?: number;
  /** Around the longest silence: how long the sender paused, and sequence numbers skipped. */
  readonly longestSilenceSendGapMs?: number;
  readonly longestSilenceSkipped?: number;
}

/** A receiver: joins, leaves, first-packet latency, counters, a sniffer, a raw IGMP sender. */
export class TvHandle {
  readonly program: LabProgram;
  readonly address: string;
  readonly namespace: Netns;

  constructor(program: LabProgram, address: string, namespace: Netns) {
    this.program = program;
    this.address = address;
    this.namespace = namespace;
  }

  get mark(): number {
    return this.program.mark;
  }

  /** Joins (the kernel sends the report); resolves with the lab-clock time of the join call. */
  async join(group: string): Promise<number> {
    return (await this.program.call('join', { group })).t as number;
  }

  /** Joins many groups back to back; join times per group, and failures (e.g. ENOBUFS). */
  async joinMany(
    groups: readonly string[],
  ): Promise<{ joined: Record<string, number>; failures: Record<string, string> }> {
    const reply = await this.program.call('join-many', { groups }, 30_000);
    return { joined: reply.joined as Record<string, number>, failures: reply.failures as Record<string, string> };
  }

  /** Leaves; resolves with the time of the leave call and the group's counters. */
  async leave(group: string): Promise<GroupStats & { t: number }> {
    return (await this.program.call('leave', { group })) as unknown as GroupStats & { t: number };
  }

  /** Leaves `from` and joins `to` in one step; resolves with the time of the leave. */
  async zap(from: string, to: string): Promise<number> {
    return (await this.program.call('zap', { from, to })).t as number;
  }

  async leaveAll(): Promise<{ t: number; count: number }> {
    return (await this.program.call('leave-all')) as unknown as { t: number; count: number };
  }

  /** The first packet of `group` after its (latest) join; latencyMs is join call -> packet. */
  async waitFirstPacket(
    group: string,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<{ t: number; latencyMs: number; transitMs: number }> {
    const event = await this.program.waitForEvent(
      (value) => value.event === 'first' && value.group === group,
      timeoutMs,
      from,
      `the first packet of ${group}`,
    );
    return { t: event.t, latencyMs: event.latencyMs as number, transitMs: event.transitMs as number };
  }

  async stats(): Promise<{ groups: Record<string, GroupStats>; unexpected: Record<string, number> }> {
    return (await this.program.call('stats')) as unknown as {
      groups: Record<string, GroupStats>;
      unexpected: Record<string, number>;
    };
  }

  /** Starts the link sniffer: `igmp` events for every IGMP message, UDP counts on the wire. */
  async sniff(): Promise<void> {
    await this.program.call('sniff');
  }

  /** IGMP seen by the sniffer from line `from` on. */
  igmpEvents(from = 0, predicate: (event: LabEvent) => boolean = () => true): LabEvent[] {
    return this.program.events((event) => event.event === 'igmp' && predicate(event), from);
  }

  async wireStats(): Promise<{ now: number; groups: Record<string, { packets: number; lastAt: number }> }> {
    return (await this.program.call('wire-stats')) as unknown as {
      now: number;
      groups: Record<string, { packets: number; lastAt: number }>;
    };
  }

  /** Resolves when no packet of `group` has crossed this TV's link for quietMs (needs sniff()). */
  async waitWireQuiet(group: string, quietMs: number, timeoutMs: number): Promise<void> {
    await waitUntil(
      async () => {
        const { now, groups } = await this.wireStats();
        const entry = groups[group];
        return entry === undefined || now - entry.lastAt >= quietMs;
      },
      timeoutMs,
      `${group} to go quiet on ${this.address}'s link for ${quietMs} ms`,
      100,
    );
  }

  /**
   * Sends bytes as IGMP payloads from a raw socket (the kernel adds the IP header, TTL 1):
   * either the given payloads or `count` malformed ones from malformed-igmp.ts.
   */
  /** Sends raw IGMP payloads (the kernel adds the IP header, TTL `ttl`, default 1): the
   * given ones, or `count` malformed ones from `seed`. */
  async mcastSend(options: {
    destination: string;
    payloads?: readonly Uint8Array[];
    count?: number;
    seed?: number;
    ttl?: number;
    maxDurationMs?: number;
  }): Promise<{ sent: number; failed: number; errors: Record<string, number>; durationMs: number }> {
    const { payloads, maxDurationMs = 30_000, ...rest } = options;
    const args = {
      ...rest,
      maxDurationMs,
      ...(payloads ? { payloads: payloads.map((bytes) => Buffer.from(bytes).toString('hex')) } : {}),
    };
    return (await this.program.call('mcast-send', args, maxDurationMs + 10_000)) as unknown as {
      sent: number;
      failed: number;
      errors: Record<string, number>;
      durationMs: number;
    };
  }
}

/** A proxy process under test, running in the proxy namespace. */
export class ProxyHandle {
  readonly process: NetnsProcess;
  readonly pid: number;
  readonly configPath: string;
  readonly command: readonly string[];
  /** stdout and stderr lines in arrival order (at most 100 000 kept). */
  readonly log: string[] = [];
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null | undefined;

  constructor(process: NetnsProcess, command: readonly string[], configPath: string) {
    this.process = process;
    this.command = command;
    this.configPath = configPath;
    this.pid = process.child.pid ?? -1;
    const collect = (stream: NodeJS.ReadableStream): void => {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (this.log.length < 100_000) this.log.push(line);
      });
      stream.on('end', () => {
        if (partial !== '') this.log.push(partial);
      });
    };
    collect(process.child.stdout);
    collect(process.child.stderr);
    process.child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
    });
  }

  get running(): boolean {
    return this.exitCode === undefined && this.exitSignal === undefined && !this.process.exited;
  }

  /** The last log lines, for error messages. */
  tail(lines = 20): string {
    return this.log.slice(-lines).join('\n');
  }

  /** Waits for a log line matching `pattern` (index >= from). */
  async waitForLog(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    let found: string | undefined;
    await waitUntil(
      () => {
        found = this.log.slice(from).find((line) => pattern.test(line));
        return found !== undefined || !this.running;
      },
      timeoutMs,
      `proxy log line ${pattern}`,
      20,
    );
    if (found === undefined)
      throw new Error(`proxy exited (${this.exitCode ?? this.exitSignal}) before logging ${pattern}:\n${this.tail()}`);
    return found;
  }

  /** utime + stime of the proxy process in seconds. */
  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  /** RssAnon of the proxy process in kB. */
  rssAnonKb(): number | undefined {
    return rssAnonKb(this.pid);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves with how it ended. */
  async stop(
    graceMs = 5_000,
  ): Promise<{ code: number | null | undefined; signal: NodeJS.Signals | null | undefined; killed: boolean }> {
    if (!this.running) return { code: this.exitCode, signal: this.exitSignal, killed: false };
    this.process.child.kill('SIGTERM');
    try {
      await waitUntil(() => !this.running, graceMs, 'the proxy to exit after SIGTERM', 20);
      return { code: this.exitCode, signal: this.exitSignal, killed: false };
    } catch {
      await this.process.stop(0);
      return { code: this.exitCode, signal: this.exitSignal, killed: true };
    }
  }
}

export class IptvLab {
  readonly netns: NetnsLab;
  readonly options: ResolvedOptions;
  readonly interfaces: LabInterfaces;
  readonly ispNamespace: Netns;
  readonly proxyNamespace: Netns;
  readonly tvNamespaces: readonly Netns[];
  readonly isp2Namespace: Netns | undefined;
  readonly isp: IspHandle;
  /** The second upstream's provider, when the lab has one. */
  readonly isp2: IspHandle | undefined;
  private readonly tvs: readonly TvHandle[];
  private readonly proxies: ProxyHandle[] = [];
  private readonly tempDirs: string[] = [];
  private disposed = false;

  private constructor(fields: {
    netns: NetnsLab;
    options: ResolvedOptions;
    ispNamespace: Netns;
    proxyNamespace: Netns;
    tvNamespaces: Netns[];
    isp2Namespace: Netns | undefined;
    isp: IspHandle;
    isp2: IspHandle | undefined;
    tvs: TvHandle[];
  }) {
    this.netns = fields.netns;
    this.options = fields.options;
    this.interfaces = labInterfaces(fields.options.prefix);
    this.ispNamespace = fields.ispNamespace;
    this.proxyNamespace = fields.proxyNamespace;
    this.tvNamespaces = fields.tvNamespaces;
    this.isp2Namespace = fields.isp2Namespace;
    this.isp = fields.isp;
    this.isp2 = fields.isp2;
    this.tvs = fields.tvs;
  }

  /** Builds the topology and starts the isp and tv programs. Cleans up after itself on failure. */
  static async create(options: IptvLabOptions = {}): Promise<IptvLab> {
    const resolved = resolveOptions(options);
    const netns = new NetnsLab(resolved.prefix);
    try {
      const shim = await labShim();
      const names = labInterfaces(resolved.prefix);
      const isp = await netns.createNamespace('isp');
      const proxy = await netns.createNamespace('proxy');
      const tvNamespaces: Netns[] = [];
      for (let index = 0; index < resolved.tvClients; index++)
        tvNamespaces.push(await netns.createNamespace(`tv${index}`));
      const isp2 = resolved.upstreams.length > 1 ? await netns.createNamespace('isp2') : undefined;

      await buildUpstream(
        netns,
        isp,
        names.ispLink,
        proxy,
        names.upstream,
        LAB_ADDRESSES.ispLink,
        LAB_ADDRESSES.upstream,
        resolved.upstreams[0] as Required<UpstreamOptions>,
      );
      if (isp2) {
        await buildUpstream(
          netns,
          isp2,
          names.isp2Link,
          proxy,
          names.upstream2,
          LAB_ADDRESSES.isp2Link,
          LAB_ADDRESSES.upstream2,
          resolved.upstreams[1] as Required<UpstreamOptions>,
        );
      }
      await buildDownstream(netns, proxy, tvNamespaces, names, resolved.tvIgmpVersions);
      await configureRouter(proxy, [names.upstream, ...(isp2 ? [names.upstream2] : [])]);

      const ispConfig = (upstream: Required<UpstreamOptions>, ifname: string, address: string): IspProgramConfig => ({
        shim,
        ifname,
        address,
        sourceAddress: upstream.sourceAddress,
        version: upstream.ispVersion,
        queryIntervalMs: resolved.queryIntervalMs,
        queryResponseMs: resolved.queryResponseMs,
        robustness: 2,
        lastMemberQueryMs: resolved.lastMemberQueryMs,
        lastMemberCount: 2,
        leaveMode: resolved.ispLeaveMode,
        port: STREAM_PORT,
        packetIntervalMs: resolved.packetIntervalMs,
        payloadBytes: 64,
      });
      const upstream1 = resolved.upstreams[0] as Required<UpstreamOptions>;
      const upstream2 = resolved.upstreams[1];
      const [ispProgram, isp2Program, ...tvPrograms] = await Promise.all([
        startLabProgram(isp, 'isp', 'isp-program.ts', ispConfig(upstream1, names.ispLink, LAB_ADDRESSES.ispLink)),
        isp2 && upstream2
          ? startLabProgram(
              isp2,
              'isp2',
              'isp-program.ts',
              ispConfig(upstream2, names.isp2Link, LAB_ADDRESSES.isp2Link),
            )
          : Promise.resolve(undefined),
        ...tvNamespaces.map((namespace, index) =>
          startLabProgram(namespace, `tv${index}`, 'tv-program.ts', {
            shim,
            ifname: names.tv(index),
            address: tvAddress(index),
            port: STREAM_PORT,
          } satisfies TvProgramConfig),
        ),
      ]);
      return new IptvLab({
        netns,
        options: resolved,
        ispNamespace: isp,
        proxyNamespace: proxy,
        tvNamespaces,
        isp2Namespace: isp2,
        isp: new IspHandle(ispProgram as LabProgram, upstream1.sourceAddress),
        isp2: isp2Program && upstream2 ? new IspHandle(isp2Program, upstream2.sourceAddress) : undefined,
        tvs: tvPrograms.map(
          (program, index) => new TvHandle(program as LabProgram, tvAddress(index), tvNamespaces[index] as Netns),
        ),
      });
    } catch (error) {
      await netns.cleanup().catch(() => undefined);
      throw error;
    }
  }

  tv(index: number): TvHandle {
    const handle = this.tvs[index];
    if (!handle) throw new Error(`the lab has ${this.tvs.length} TV clients, no tv(${index})`);
    return handle;
  }

  get tvCount(): number {
    return this.tvs.length;
  }

  /**
   * A receiver program in the PROXY namespace on an upstream interface: what a host there
   * does when it joins a group itself (proves the isp side without any proxy).
   */
  async startUpstreamListener(which: 1 | 2 = 1): Promise<TvHandle> {
    const shim = await labShim();
    const ifname = which === 1 ? this.interfaces.upstream : this.interfaces.upstream2;
    const address = which === 1 ? LAB_ADDRESSES.upstream : LAB_ADDRESSES.upstream2;
    const program = await startLabProgram(this.proxyNamespace, `upstream-listener${which}`, 'tv-program.ts', {
      shim,
      ifname,
      address,
      port: STREAM_PORT,
    } satisfies TvProgramConfig);
    return new TvHandle(program, address, this.proxyNamespace);
  }

  /**
   * An igmpproxy.conf for this lab in the layout of the IPFire how-to: upstream with its
   * altnets, the bridge downstream, everything else disabled.
   */
  proxyConfig(options: ProxyConfigOptions = {}): string {
    const names = this.interfaces;
    const altnets =
      options.altnets ??
      this.options.upstreams
        .filter((upstream) => upstream.sourceAddress === LAB_ADDRESSES.altSource)
        .map(() => LAB_ADDRESSES.altSourceSubnet);
    const lines = [`# igmpproxy.conf of the ${this.options.prefix} IPTV lab`];
    if (options.quickleave) lines.push('quickleave');
    lines.push(`phyint ${names.upstream} upstream  ratelimit 0  threshold 1`);
    for (const altnet of new Set(altnets)) lines.push(`        altnet ${altnet}`);
    if (this.isp2Namespace) {
      lines.push(
        options.secondUpstream === false
          ? `phyint ${names.upstream2} disabled`
          : `phyint ${names.upstream2} upstream  ratelimit 0  threshold 1`,
      );
    }
    lines.push(`phyint ${names.bridge} downstream  ratelimit 0  threshold 1`);
    lines.push('phyint lo disabled');
    if (options.extra) lines.push(options.extra);
    return `${lines.join('\n')}\n`;
  }

  /** Writes the config to a temp file and starts `command + [configPath]` in the proxy namespace. */
  async startProxy(options: ProxyStartOptions): Promise<ProxyHandle> {
    if (this.disposed) throw new Error('the lab is disposed');
    const dir = mkdtempSync(path.join(tmpdir(), `${this.options.prefix}-proxy-`));
    this.tempDirs.push(dir);
    const configPath = path.join(dir, 'igmpproxy.conf');
    writeFileSync(configPath, options.config);
    const argv = [...options.command.map((arg) => arg.replaceAll(PROXY_TEMP_DIR_TOKEN, dir)), configPath];
    const handle = new ProxyHandle(
      this.proxyNamespace.spawn(argv, { cwd: repositoryRoot, env: options.env }),
      argv,
      configPath,
    );
    this.proxies.push(handle);
    const graceMs = options.startupGraceMs ?? 300;
    if (graceMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, graceMs));
      if (!handle.running) {
        throw new Error(
          `proxy "${argv.join(' ')}" exited at start (code ${handle.exitCode}, signal ${handle.exitSignal}):\n${handle.tail()}`,
        );
      }
    }
    return handle;
  }

  /** Polls `predicate` until true; rejects after timeoutMs with `what` in the message. */
  waitFor(
    predicate: () => boolean | Promise<boolean>,
    timeoutMs: number,
    what: string,
    intervalMs = 20,
  ): Promise<void> {
    return waitUntil(predicate, timeoutMs, what, intervalMs);
  }

  /** Stops proxies (SIGTERM first), then every program, deletes the namespaces and temp files. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.proxies.map((proxy) => proxy.stop(3_000).catch(() => undefined)));
    try {
      await this.netns.cleanup();
    } finally {
      for (const dir of this.tempDirs) rmSync(dir, { recursive: true, force: true });
    }
  }
}

function resolveOptions(options: IptvLabOptions): ResolvedOptions {
  const tvClients = options.tvClients ?? 1;
  if (!Number.isInteger(tvClients) || tvClients < 1 || tvClients > MAX_TV_CLIENTS) {
    throw new RangeError(`tvClients must be 1..${MAX_TV_CLIENTS}`);
  }
  const first: Required<UpstreamOptions> = {
    ispVersion: options.ispVersion ?? 3,
    sourceAddress: options.sourceAddress ?? LAB_ADDRESSES.ispLink,
  };
  const secondOptions = options.secondUpstream === true ? {} : options.secondUpstream || undefined;
  const upstreams = [first];
  if (secondOptions) {
    upstreams.push({
      ispVersion: secondOptions.ispVersion ?? first.ispVersion,
      sourceAddress: secondOptions.sourceAddress ?? LAB_ADDRESSES.isp2Link,
    });
  }
  for (const upstream of upstreams) {
    if (upstream.ispVersion !== 2 && upstream.ispVersion !== 3) throw new RangeError('ispVersion must be 2 or 3');
  }
  return {
    prefix: options.prefix ?? LAB_PREFIX,
    tvClients,
    tvIgmpVersions: options.tvIgmpVersions ?? [],
    upstreams,
    queryIntervalMs: options.queryIntervalMs ?? 125_000,
    queryResponseMs: options.queryResponseMs ?? 2_000,
    lastMemberQueryMs: options.lastMemberQueryMs ?? 200,
    ispLeaveMode: options.ispLeaveMode ?? 'query',
    packetIntervalMs: options.packetIntervalMs ?? 10,
  };
}

async function buildUpstream(
  lab: NetnsLab,
  isp: Netns,
  ispLink: string,
  proxy: Netns,
  upstream: string,
  ispAddress: string,
  proxyAddress: string,
  options: Required<UpstreamOptions>,
): Promise<void> {
  await lab.connect(isp, ispLink, proxy, upstream);
  await isp.addAddress(ispLink, `${ispAddress}/24`);
  await proxy.addAddress(upstream, `${proxyAddress}/24`);
  // A source outside the link's subnet lives on the isp's link interface itself, so the
  // isp's UDP socket can bind to it and the packets leave by that link.
  if (options.sourceAddress !== ispAddress) await isp.addAddress(ispLink, `${options.sourceAddress}/32`);
  for (const [namespace, name] of [
    [isp, ispLink],
    [proxy, upstream],
  ] as const) {
    await namespace.ip('link', 'set', 'dev', name, 'multicast', 'on');
    await namespace.up(name);
  }
  // The provider reaches the LAN side only through the proxy (never needed for multicast,
  // but keeps the addressing plausible).
  await isp.ip('route', 'add', LAB_ADDRESSES.downstreamSubnet, 'via', proxyAddress);
}

async function buildDownstream(
  lab: NetnsLab,
  proxy: Netns,
  tvs: readonly Netns[],
  names: LabInterfaces,
  versions: readonly (2 | 3 | undefined)[],
): Promise<void> {
  for (const [index, tv] of tvs.entries()) {
    await lab.connect(proxy, names.tvPort(index), tv, names.tv(index));
    await tv.addAddress(names.tv(index), `${tvAddress(index)}/24`);
    await tv.ip('link', 'set', 'dev', names.tv(index), 'multicast', 'on');
    await tv.up(names.tv(index));
    // A TV's way to the stream sources is its gateway, the proxy: the reverse-path check
    // of the TV's kernel accepts the forwarded multicast because of this route.
    await tv.ip('route', 'add', 'default', 'via', LAB_ADDRESSES.downstream);
    const version = versions[index];
    if (version !== undefined) await tv.sysctl(`net.ipv4.conf.${names.tv(index)}.force_igmp_version`, version);
    await tv.sysctl('net.ipv4.igmp_max_memberships', TV_MAX_MEMBERSHIPS);
  }
  await proxy.bridge(
    names.bridge,
    tvs.map((_, index) => names.tvPort(index)),
  );
  // Snooping off: the bridge is a plain hub for multicast (like the unmanaged switch behind
  // most IPFire boxes), so what reaches a TV depends on the proxy alone, not on the bridge
  // learning reports or waiting for its own querier.
  await proxy.ip('link', 'set', 'dev', names.bridge, 'type', 'bridge', 'mcast_snooping', '0');
  await proxy.ip('link', 'set', 'dev', names.bridge, 'multicast', 'on');
  await proxy.addAddress(names.bridge, `${LAB_ADDRESSES.downstream}/24`);
}

async function configureRouter(proxy: Netns, upstreams: readonly string[]): Promise<void> {
  await proxy.sysctl('net.ipv4.ip_forward', 1);
  // Reverse-path filtering off (effective value is max(all, interface)): an IPTV source is
  // often not reachable through the interface its multicast arrives on (altnet sources,
  // a second upstream), and strict rp_filter would drop those packets before multicast
  // routing sees them -- which is why IPFire setups switch it off for IPTV.
  await proxy.sysctl('net.ipv4.conf.all.rp_filter', 0);
  await proxy.sysctl('net.ipv4.conf.default.rp_filter', 0);
  for (const upstream of upstreams) await proxy.sysctl(`net.ipv4.conf.${upstream}.rp_filter`, 0);
  // Like a real router, the WAN (first upstream) is the default route.
  await proxy.ip('route', 'add', 'default', 'via', LAB_ADDRESSES.ispLink);
}
