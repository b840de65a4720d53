// The kernel side of the bench's probes (memory-probe.ts, flood-probe.ts): they run the
// daemon's real code on this stand-in instead of a kernel. Every socket call succeeds; the
// receive callbacks are kept so a probe can hand the daemon datagrams one by one or as the
// shim's batches. The process-wide memory calls go to the real shim when the probe has one.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { makeBatch } from '../../addon/daemon/kernel/shim.ts';
import type { IgmpShim, ReceiveBatchCallback, ReceiveCallback } from '../../addon/daemon/kernel/shim.ts';
import type { KernelInterface } from '../../addon/daemon/kernel/interfaces.ts';
import { Logger } from '../../addon/daemon/log/logger.ts';
import { buildIgmp, buildIpv4Packet, IPPROTO_IGMP } from '../../addon/daemon/igmp/index.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { Daemon } from '../../addon/daemon/runtime/daemon.ts';

/** The real shim's process-wide calls (loaded from --shim=PATH by the memory probe). */
export interface ProcessShim {
  disableTransparentHugePages(): void;
  trimMalloc(): void;
}

export interface StandInShim {
  readonly shim: IgmpShim;
  /** One datagram (IGMP or an upcall) to the first socket that reads. */
  deliver(data: Uint8Array, ifindex: number, source: number): void;
  /** A batch as the shim makes it (makeBatch) to the first socket that reads in batches. */
  deliverBatch(batch: { data: Buffer; index: Buffer }): void;
  /** Datagrams the daemon sent. */
  sent(): number;
}

export function standInShim(real?: ProcessShim): StandInShim {
  const receivers = new Map<number, ReceiveCallback>();
  const batchReceivers = new Map<number, ReceiveBatchCallback>();
  let nextFd = 10;
  let sent = 0;
  const shim: IgmpShim = {
    socket: () => nextFd++,
    setsockopt: () => undefined,
    getsockopt: (_fd, _level, _name, maxLength) => Buffer.alloc(Math.min(maxLength, 4)),
    bindNetlink: () => undefined,
    connectUnix: () => undefined,
    send: (_fd, data) => {
      sent++;
      return data.length;
    },
    receive: (fd, callback) => void receivers.set(fd, callback),
    receiveBatch: (fd, callback) => {
      batchReceivers.set(fd, callback);
      receivers.set(fd, (error, data, ifindex, source) => {
        const batch =
          data === undefined ? undefined : makeBatch([{ data, ifindex: ifindex ?? 0, source: source ?? 0 }]);
        callback(error, batch?.data, batch?.index);
      });
    },
    close: (fd) => {
      receivers.delete(fd);
      batchReceivers.delete(fd);
    },
    unblockSignal: () => undefined,
    disableTransparentHugePages: () => real?.disableTransparentHugePages(),
    trimMalloc: () => real?.trimMalloc(),
  };
  return {
    shim,
    deliver: (data, ifindex, source) => [...receivers.values()][0]?.(null, Buffer.from(data), ifindex, source),
    deliverBatch: (batch) => [...batchReceivers.values()][0]?.(null, batch.data, batch.index),
    sent: () => sent,
  };
}

/** An interface as the daemon's interface reader reports it: up, running, one /24 address. */
export function probeInterface(name: string, ifindex: number, address: string): KernelInterface {
  const parsed = parseIpv4(address) as number;
  return {
    name,
    ifindex,
    address: parsed,
    prefixLength: 24,
    addresses: [{ address: parsed, prefixLength: 24 }],
    up: true,
    multicast: true,
    loopback: false,
    pointToPoint: false,
    running: true,
  };
}

/** Upstream up0 (ifindex 2) and downstream lan0 (ifindex 3) of the probes' configurations. */
export const PROBE_UPSTREAM_IFINDEX = 2;
export const PROBE_DOWNSTREAM_IFINDEX = 3;

/**
 * The real daemon on a stand-in shim, with `configText` written to `dir`/igmpproxy.conf,
 * up0 (100.64.0.2/24) and lan0 (192.168.1.1/24), no logging, its status file in `dir`.
 */
export function startProbeDaemon(dir: string, configText: string, real?: ProcessShim) {
  const configFile = path.join(dir, 'igmpproxy.conf');
  writeFileSync(configFile, configText);
  const parsed = parseConfig(configText, configFile);
  if (!parsed.ok) throw new Error('config');
  const stand = standInShim(real);
  const daemon = Daemon.start({
    configFile,
    config: parsed.config,
    shim: stand.shim,
    logger: new Logger([], 0),
    version: 'probe',
    statusFile: path.join(dir, 'status.json'),
    readInterfaces: () => [
      probeInterface('up0', PROBE_UPSTREAM_IFINDEX, '100.64.0.2'),
      probeInterface('lan0', PROBE_DOWNSTREAM_IFINDEX, '192.168.1.1'),
    ],
  });
  return { daemon, stand };
}

/** An IGMP message from a LAN host as Linux sends it (TTL 1, Router Alert, to 224.0.0.22), as the probes feed it. */
export function hostReportDatagram(host: number, message: IgmpMessage): Buffer {
  return Buffer.from(
    buildIpv4Packet({
      source: host,
      destination: parseIpv4('224.0.0.22') as number,
      ttl: 1,
      tos: 0xc0,
      protocol: IPPROTO_IGMP,
      routerAlert: true,
      payload: buildIgmp(message),
    }),
  );
}

/** A NOCACHE upcall (struct igmpmsg) for (source, group) on vif 0, as the kernel queues it on
 * the multicast routing socket when a packet without a route arrives: what the probes feed. */
export function nocacheUpcall(source: number, group: number): Buffer {
  const bytes = Buffer.alloc(28);
  bytes.writeUInt8(0x45, 0);
  bytes.writeUInt8(1, 8); // IGMPMSG_NOCACHE; im_mbz and im_vif (0) stay zero
  bytes.writeUInt32BE(source >>> 0, 12);
  bytes.writeUInt32BE(group >>> 0, 16);
  return bytes;
}
