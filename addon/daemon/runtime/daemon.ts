// The running daemon: wires the pure proxy core (core/proxy.ts) to the kernel adapter
// (kernel/*) and to the process (timers, signals, pidfile, status file).
//
// Flow: datagrams from the raw socket -> codec -> core -> effects -> executor. One timer
// (setTimeout to the core's next deadline) drives all protocol timers; rtnetlink wakes us
// when interfaces change. Nothing polls: an idle daemon uses no CPU. Only while some route
// has receivers does the stall alarm read the kernel's packet counters once a second.
// The status file is rewritten when the core's state changed (debounced: status-publisher.ts),
// so readers without root (the web page) see receivers come and go; SIGUSR1 also writes it.
import { classifyRawDatagram } from '../igmp/upcall.ts';
import { describeIgmp } from '../igmp/describe.ts';
import { formatIpv4 } from '../net/ipv4.ts';
import { IgmpProxyCore } from '../core/proxy.ts';
import type { Effect } from '../core/effects.ts';
import type { DaemonConfig, PhyintConfig } from '../config/types.ts';
import { formatDiagnostic } from '../config/types.ts';
import { loadConfigFile } from '../config/load.ts';
import type { IgmpShim } from '../kernel/shim.ts';
import { MrouteSocket } from '../kernel/raw-socket.ts';
import type { RawDatagramIn } from '../kernel/raw-socket.ts';
import { VifTable } from '../kernel/vif-table.ts';
import { createEffectExecutor } from '../kernel/executor.ts';
import { hasCarrier, readInterfaces, readSysInterfaces, watchInterfaces } from '../kernel/interfaces.ts';
import type { InterfaceWatcher, KernelInterface } from '../kernel/interfaces.ts';
import { readMulticastRoutes, readMulticastRoutingStats } from '../kernel/mfc-stats.ts';
import { setMulticastFlag } from '../kernel/link-flags.ts';
import { lookupRoute } from '../kernel/route-lookup.ts';
import { readRpFilter, writeRpFilter } from '../kernel/rp-filter-sysctl.ts';
import type { Logger } from '../log/logger.ts';
import { activeRoles, expandDefaultDown } from './interface-roles.ts';
import { RpFilterGuard } from './rp-filter-guard.ts';
import { MemoryRelease, memoryReducingGc, residentAnonymousBytes } from './memory-release.ts';
import { StallMonitor } from './stall-monitor.ts';
import { buildStatus, summarizeStatus, writeStatusFile } from './status.ts';
import type { StatusDocument } from './status.ts';
import { StatusPublisher } from './status-publisher.ts';
import { errorMessage } from '../error-message.ts';
import { monotonicMs } from './monotonic-clock.ts';

export interface DaemonOptions {
  readonly configFile: string;
  readonly config: DaemonConfig;
  readonly shim: IgmpShim;
  readonly logger: Logger;
  readonly version: string;
  readonly statusFile: string;
  /** Injected for tests; defaults to the kernel's table and rtnetlink. */
  readonly readInterfaces?: () => KernelInterface[];
}

/** An interface handed to the core: present, up, with a VIF. */
interface ActiveInterface {
  readonly kernel: KernelInterface;
  readonly phyint: PhyintConfig;
}

export class Daemon {
  private readonly options: DaemonOptions;
  private readonly log: Logger;
  private baseConfig: DaemonConfig;
  private effectiveConfig: DaemonConfig;
  private readonly proxy: IgmpProxyCore;
  private readonly socket: MrouteSocket;
  private readonly vifs: VifTable;
  private readonly execute: (effects: readonly Effect[]) => void;
  private watcher: InterfaceWatcher | undefined;
  private readonly active = new Map<string, ActiveInterface>();
  private readonly nameByIfindex = new Map<number, string>();
  private waitingFor = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private timerDeadline: number | undefined;
  private readonly startedAt = new Date();
  /** When the configuration in use was read: diagnose compares it with the file's mtime. */
  private configLoadedAt = this.startedAt;
  private stopped = false;
  private reloading: Promise<void> | undefined;
  private malformedCount = 0;
  private readonly stalls: StallMonitor;
  private readonly rpFilter: RpFilterGuard;
  private readonly memoryRelease: MemoryRelease;
  /** When each active upstream came up (monotonic ms): "no query heard yet" counts from then. */
  private readonly upSince = new Map<string, number>();
  private readonly publisher: StatusPublisher;
  /** The core's state generation the last rewrite was asked for. */
  private publishedGeneration = -1;
  private statusWriteFailing = false;

  private constructor(options: DaemonOptions, socket: MrouteSocket) {
    this.options = options;
    this.log = options.logger;
    this.baseConfig = options.config;
    this.effectiveConfig = options.config;
    this.socket = socket;
    this.vifs = new VifTable((name, value) => socket.setOption(name, value));
    this.proxy = new IgmpProxyCore(options.config, { now: monotonicMs, random: Math.random });
    this.memoryRelease = new MemoryRelease({
      now: monotonicMs,
      schedule: (callback, ms) => void setTimeout(callback, ms).unref(),
      residentBytes: residentAnonymousBytes,
      collectGarbage: memoryReducingGc(),
      trimMalloc: () => options.shim.trimMalloc(),
    });
    this.execute = createEffectExecutor({
      socket,
      vifs: this.vifs,
      ifindexOf: (name) => this.active.get(name)?.kernel.ifindex,
      log: (level, message) => this.log.log(level, message),
    });
    this.stalls = new StallMonitor(
      {
        now: monotonicMs,
        routes: () => this.proxy.routesWithReceivers(),
        readCounters: () => {
          // Each read allocates (500 routes: tens of kB a second that outlive the young
          // generation); not activity, but the memory release must look at it.
          this.memoryRelease.periodicWork();
          return readMulticastRoutes();
        },
        upstream: (name) => {
          const current = this.active.get(name);
          const activity = this.proxy.upstreamQuerierActivity(name);
          return {
            name,
            active: current !== undefined && current.phyint.role === 'upstream',
            hasAddress: (current?.kernel.address ?? 0) !== 0,
            carrier: hasCarrier(name),
            lastQueryHeardAt: activity?.lastQueryHeardAt,
            queryIntervalMs: activity?.queryIntervalMs ?? 125_000,
            upSince: this.upSince.get(name) ?? monotonicMs(),
          };
        },
        log: (level, message) => this.log.log(level, message),
      },
      options.config.stallAlarmSeconds,
    );
    const sysIfindex = (name: string): number | undefined =>
      readSysInterfaces().find((iface) => iface.name === name)?.ifindex;
    this.rpFilter = new RpFilterGuard(
      {
        lookupRoute: (address) => lookupRoute(options.shim, address),
        read: (name) => readRpFilter(name),
        write: (name, value) => writeRpFilter(name, value),
        ifindexOf: sysIfindex,
        nameOf: (ifindex) => readSysInterfaces().find((iface) => iface.ifindex === ifindex)?.name,
        log: (level, message) => this.log.log(level, message),
      },
      options.config.rpFilter,
    );
    this.publisher = new StatusPublisher({
      now: monotonicMs,
      setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
      clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
      write: () => this.writeStatus(this.currentStatus()),
    });
  }

  /** Claims multicast routing in this namespace and starts proxying. Throws on fatal errors. */
  static start(options: DaemonOptions): Daemon {
    let daemon: Daemon | undefined;
    const socket = MrouteSocket.open(options.shim, {
      screen: (ifindex, source) => daemon?.screen(ifindex, source) ?? true,
      onDatagram: (datagram) => daemon?.onDatagram(datagram),
      onError: (error) => options.logger.warning(`raw socket: ${error.message}`),
    });
    daemon = new Daemon(options, socket);
    try {
      if (options.readInterfaces) {
        daemon.onInterfaces(options.readInterfaces());
      } else {
        daemon.watcher = watchInterfaces(options.shim, (table) => daemon?.onInterfaces(table), {
          onError: (error) => options.logger.warning(`interface watch: ${error.message}`),
        });
        daemon.onInterfaces(daemon.watcher.current);
      }
    } catch (error) {
      daemon.teardownKernel();
      throw error;
    }
    daemon.memoryRelease.started();
    return daemon;
  }

  // ---- interfaces ---------------------------------------------------------------------

  private onInterfaces(table: readonly KernelInterface[]): void {
    if (this.stopped) return;
    const expanded = expandDefaultDown(this.baseConfig, table);
    if (expanded !== this.effectiveConfig) {
      this.effectiveConfig = expanded;
      this.run(this.proxy.reconfigure(expanded));
    }
    const roles = activeRoles(this.effectiveConfig);
    const present = new Map(table.map((iface) => [iface.name, iface]));

    // Gone, down, re-created (new ifindex) or renumbered interfaces leave first.
    for (const [name, current] of this.active) {
      const next = present.get(name);
      const phyint = roles.get(name);
      const replaced =
        next === undefined ||
        !next.up ||
        phyint === undefined ||
        next.ifindex !== current.kernel.ifindex ||
        phyint.role !== current.phyint.role;
      if (replaced) {
        this.deactivate(name, next === undefined ? 'gone' : !next.up ? 'down' : 're-created');
      } else if (next.address !== current.kernel.address || next.prefixLength !== current.kernel.prefixLength) {
        // Same device, new address (DHCP renew, carrier up): groups and routes stay.
        this.log.notice(
          `${name}: address is now ${next.address ? `${formatIpv4(next.address)}/${next.prefixLength}` : 'none'}`,
        );
        this.active.set(name, { kernel: next, phyint: current.phyint });
        this.run(this.proxy.interfaceUp(next));
      }
    }

    const waiting = new Set<string>();
    for (const [name, phyint] of roles) {
      const iface = present.get(name);
      if (iface === undefined || !iface.up) {
        waiting.add(name);
        continue;
      }
      if (!iface.multicast) this.switchMulticastOn(iface);
      if (!this.active.has(name)) this.activate(iface, phyint);
    }
    for (const name of waiting) {
      if (!this.waitingFor.has(name)) {
        this.log.notice(`${name} (${roles.get(name)?.role}) is not present or not up; waiting for it`);
      }
    }
    this.waitingFor = waiting;
    this.reviewRpFilter(roles, present);
  }

  /** Strict rp_filter must not drop an upstream's streams: see rp-filter-guard.ts. */
  private reviewRpFilter(
    roles: ReadonlyMap<string, PhyintConfig>,
    present: ReadonlyMap<string, KernelInterface>,
  ): void {
    const upstreams = [...roles.values()]
      .filter((phyint) => phyint.role === 'upstream')
      .map((phyint) => ({ name: phyint.name, ifindex: present.get(phyint.name)?.ifindex, altnets: phyint.altnets }));
    this.rpFilter
      .review(upstreams)
      .catch((error: unknown) => this.log.warning(`rp_filter check failed: ${errorMessage(error)}`));
  }

  private activate(iface: KernelInterface, phyint: PhyintConfig): void {
    try {
      this.vifs.add(iface.name, iface.ifindex, phyint.threshold);
      if (phyint.role === 'downstream') this.socket.joinControlGroups(iface.ifindex);
    } catch (error) {
      this.log.warning(`${iface.name}: cannot use it for multicast routing: ${errorMessage(error)}`);
      this.vifs.remove(iface.name);
      return;
    }
    this.active.set(iface.name, { kernel: iface, phyint });
    this.nameByIfindex.set(iface.ifindex, iface.name);
    this.upSince.set(iface.name, monotonicMs());
    this.log.notice(
      `${iface.name} is ${phyint.role} (ifindex ${iface.ifindex}, vif ${this.vifs.vifOf(iface.name)}, ` +
        `${iface.address ? `${formatIpv4(iface.address)}/${iface.prefixLength}` : 'no IPv4 address'})`,
    );
    this.run(this.proxy.interfaceUp(iface));
  }

  private deactivate(name: string, why: string): void {
    const current = this.active.get(name);
    if (!current) return;
    this.log.notice(
      `${name} is ${why}; ${current.phyint.role === 'upstream' ? 'its routes are dropped until it is back' : 'its members are dropped'}`,
    );
    this.run(this.proxy.interfaceDown(name));
    if (current.phyint.role === 'downstream') this.socket.leaveControlGroups(current.kernel.ifindex);
    this.active.delete(name);
    this.upSince.delete(name);
    this.nameByIfindex.delete(current.kernel.ifindex);
    try {
      this.vifs.remove(name);
    } catch (error) {
      this.log.warning(`${name}: cannot remove its VIF: ${errorMessage(error)}`);
    }
  }

  /** IPFire's red.up switches multicast off on red; an upstream needs it. */
  private switchMulticastOn(iface: KernelInterface): void {
    try {
      setMulticastFlag(this.options.shim, iface.ifindex);
      this.log.notice(`${iface.name}: multicast was switched off on it; switched it on`);
    } catch (error) {
      this.log.warning(`${iface.name}: multicast is off and cannot be switched on: ${errorMessage(error)}`);
    }
  }

  // ---- datagrams ----------------------------------------------------------------------

  /** Before a datagram is even cut out of its batch: a host beyond its share is dropped unread (upcalls have no ifindex). */
  private screen(ifindex: number, source: number): boolean {
    if (this.stopped) return false;
    const arrivedOn = this.nameByIfindex.get(ifindex);
    if (arrivedOn === undefined) return true;
    const dropped = this.proxy.screenDatagram(arrivedOn, source);
    if (dropped === undefined) return true;
    if (dropped.length > 0) this.execute(dropped);
    return false;
  }

  private onDatagram(datagram: RawDatagramIn): void {
    if (this.stopped) return;
    const parsed = classifyRawDatagram(datagram.data);
    if (!parsed.ok) {
      // Counted, and logged rarely: a flood of garbage must not flood the log too.
      this.malformedCount++;
      if (this.log.enabled('debug') || isPowerOfTwo(this.malformedCount)) {
        this.log.info(
          `ignored a malformed packet from ${formatIpv4(datagram.source)} (${this.malformedCount} so far): ${parsed.reason}`,
        );
      }
      return;
    }
    const value = parsed.value;
    if (value.kind === 'upcall') {
      const name = this.vifs.nameOf(value.upcall.vif);
      if (name === undefined || !this.active.has(name)) {
        this.log.debug(`upcall for vif ${value.upcall.vif}, which is not ours now; ignored`);
        return;
      }
      this.run(this.proxy.receiveUpcall(name, value.upcall));
      return;
    }
    const name = this.nameByIfindex.get(datagram.ifindex);
    if (name === undefined) {
      this.log.debug(
        `IGMP from ${formatIpv4(value.packet.source)} on ifindex ${datagram.ifindex}, not a proxied interface; ignored`,
      );
      return;
    }
    if (this.log.enabled('debug')) {
      this.log.debug(`${name}: ${describeIgmp(value.message)} from ${formatIpv4(value.packet.source)}`);
    }
    this.run(this.proxy.receiveIgmp(name, value.packet, value.message));
  }

  // ---- effects and time ---------------------------------------------------------------

  private run(effects: readonly Effect[]): void {
    if (effects.length > 0) this.execute(effects);
    this.schedule();
    if (this.stopped) return;
    this.stalls.update();
    this.memoryRelease.activity();
    const generation = this.proxy.stateGeneration;
    if (generation !== this.publishedGeneration) {
      this.publishedGeneration = generation;
      this.publisher.changed();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const deadline = this.proxy.nextDeadline();
    if (deadline === this.timerDeadline && this.timer !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDeadline = deadline;
    if (deadline === undefined) return;
    const delay = Math.max(0, Math.ceil(deadline - monotonicMs()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDeadline = undefined;
      if (!this.stopped) this.run(this.proxy.advance());
    }, delay);
  }

  // ---- signals ------------------------------------------------------------------------

  /** SIGHUP: a valid new configuration replaces the old; an invalid one is refused and logged. */
  reload(): Promise<void> {
    if (this.reloading) return this.reloading.then(() => this.reload());
    this.reloading = (async () => {
      const result = loadConfigFile(this.options.configFile);
      if (this.stopped) return;
      if (!result.ok) {
        for (const error of result.errors) this.log.error(formatDiagnostic(error));
        this.log.error(`reload refused: ${this.options.configFile} has errors; the running configuration stays`);
        return;
      }
      for (const warning of result.warnings) this.log.warning(formatDiagnostic(warning));
      this.baseConfig = result.config;
      this.configLoadedAt = new Date();
      this.stalls.configure(result.config.stallAlarmSeconds);
      this.rpFilter.configure(result.config.rpFilter);
      const table = this.watcher?.current ?? (this.options.readInterfaces ?? readInterfaces)();
      this.effectiveConfig = expandDefaultDown(result.config, table);
      // Thresholds may change VIFs; an interface whose role changed is re-activated by onInterfaces.
      const roles = activeRoles(this.effectiveConfig);
      for (const [name, current] of this.active) {
        const next = roles.get(name);
        if (next === undefined || next.role !== current.phyint.role || next.threshold !== current.phyint.threshold) {
          this.deactivate(name, 'reconfigured');
        } else {
          this.active.set(name, { kernel: current.kernel, phyint: next });
        }
      }
      this.run(this.proxy.reconfigure(this.effectiveConfig));
      this.onInterfaces(table);
      this.log.notice(`reloaded ${this.options.configFile}`);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** SIGUSR1: state to the log and to the status file. */
  dumpStatus(): void {
    const status = this.currentStatus();
    for (const line of summarizeStatus(status)) this.log.notice(line);
    this.writeStatus(status);
    this.publisher.written();
  }

  private currentStatus(): StatusDocument {
    let stats: ReturnType<typeof readMulticastRoutingStats> = { routes: [], vifs: [] };
    try {
      stats = readMulticastRoutingStats();
    } catch (error) {
      this.log.warning(`cannot read the kernel's multicast routing counters: ${errorMessage(error)}`);
    }
    return buildStatus({
      version: this.options.version,
      configFile: this.options.configFile,
      configLoadedAt: this.configLoadedAt,
      startedAt: this.startedAt,
      now: new Date(),
      vifs: this.vifs.entries(),
      vifStats: stats.vifs,
      mfc: stats.routes,
      waitingFor: [...this.waitingFor],
      proxy: this.proxy.snapshot(),
      stallAlarm: this.stalls.status(),
    });
  }

  /** A failing write (full /run) is logged once until a write succeeds again. */
  private writeStatus(status: StatusDocument): void {
    try {
      writeStatusFile(this.options.statusFile, status);
      this.statusWriteFailing = false;
    } catch (error) {
      if (!this.statusWriteFailing) this.log.warning(`cannot write ${this.options.statusFile}: ${errorMessage(error)}`);
      this.statusWriteFailing = true;
    }
  }

  /** SIGTERM/SIGINT: delete our routes, leave upstream, drop VIFs, put rp_filter back, MRT_DONE. Synchronous. */
  stop(): void {
    if (this.stopped) return;
    this.execute(this.proxy.shutdown());
    this.stopped = true;
    this.teardownKernel();
  }

  private teardownKernel(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stalls.stop();
    this.publisher.stop();
    // Before anything else can fail: the user's rp_filter values come back whatever happens.
    this.rpFilter.stop();
    this.watcher?.close();
    for (const [name, current] of this.active) {
      if (current.phyint.role === 'downstream') this.socket.leaveControlGroups(current.kernel.ifindex);
      try {
        this.vifs.remove(name);
      } catch {
        // MRT_DONE below removes whatever is left.
      }
    }
    this.active.clear();
    this.nameByIfindex.clear();
    this.socket.close();
  }
}

function isPowerOfTwo(n: number): boolean {
  return (n & (n - 1)) === 0;
}
