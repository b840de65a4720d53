// A TV (IPTV receiver) of the lab, run inside a tv namespace -- or, to test the lab
// without a proxy, inside the proxy namespace on the upstream interface:
//   node tv-program.ts '<TvProgramConfig as JSON>'
// - join/leave groups the way a real receiver does: IP_ADD_MEMBERSHIP on a UDP socket
//   (node:dgram), so the KERNEL sends the IGMP reports, in whatever version the interface
//   speaks (force_igmp_version, or what the querier asked for);
// - per group: latency of the first packet after the join, packets, gaps, reordering;
// - `sniff`: a packet socket that sees every IGMP message on the link in both directions
//   (own reports, the proxy's queries, other TVs) and counts multicast UDP on the wire
//   per group, joined or not (the lab's bridge floods multicast to every port);
// - `mcast-send`: arbitrary bytes as IGMP from a raw socket (malformed-packet tests).
// JSON lines: see program-io.ts; events: ready, first, igmp, error.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseIgmp, parseIpv4Packet } from '../../addon/daemon/igmp/index.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/index.ts';
import {
  AF_INET,
  IP_MULTICAST_TTL,
  IPPROTO_IGMP,
  IPPROTO_IP,
  packInt,
  SOCK_RAW,
  SOL_SOCKET,
} from '../../addon/daemon/kernel/mroute.ts';
import { loadShim } from '../../addon/daemon/kernel/shim.ts';
import type { IgmpShim } from '../../addon/daemon/kernel/shim.ts';
import { formatIpv4, isMulticast, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { monotonicMs } from './clock.ts';
import { malformedIgmpPayloads } from './malformed-igmp.ts';
import { emit, numberField, serveCommands, stringField } from './program-io.ts';
import type { Command } from './program-io.ts';
import { SilenceTracker } from './silence-tracker.ts';
import { decodeStreamPacket, SequenceTracker } from './stream-payload.ts';

export interface TvProgramConfig {
  /** The native shim; only `sniff` and `mcast-send` need it. */
  readonly shim: string;
  readonly ifname: string;
  /** This receiver's address: joins are made on its interface. */
  readonly address: string;
  readonly port: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as TvProgramConfig;
const ownAddress = parseIpv4(config.address);
if (ownAddress === undefined) throw new Error(`not an IPv4 address: ${config.address}`);
const ifindex = Number(readFileSync(`/sys/class/net/${config.ifname}/ifindex`, 'utf8'));
const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const ETH_P_ALL_NETWORK_ORDER = 0x0300; // htons(ETH_P_ALL): outgoing frames are seen only by ETH_P_ALL taps
const MAX_SEND_COUNT = 100_000;
const SO_RCVBUFFORCE = 33;
const SNIFFER_BUFFER_BYTES = 32 << 20;

let shim: IgmpShim | undefined;
function nativeShim(): IgmpShim {
  shim ??= loadShim({ path: config.shim });
  return shim;
}

interface Viewing {
  readonly joinedAt: number;
  readonly tracker: SequenceTracker;
  readonly silence: SilenceTracker;
  firstAt?: number;
  lastAt?: number;
}

const viewing = new Map<number, Viewing>();
/** Packets of groups this TV does not (or no longer) watch, as its socket delivered them. */
const unexpected = new Map<number, number>();

// One socket for every group: with IP_MULTICAST_ALL (Linux default) a second socket on the
// same port would get a copy of every group anyway. Joins per socket are limited by
// net.ipv4.igmp_max_memberships; the lab raises it in tv namespaces only.
const receiver = dgram.createSocket({ type: 'udp4', reuseAddr: true });
receiver.on('message', (payload) => {
  const t = monotonicMs();
  const packet = decodeStreamPacket(payload);
  if (!packet) return;
  const view = viewing.get(packet.group);
  if (!view) {
    unexpected.set(packet.group, (unexpected.get(packet.group) ?? 0) + 1);
    return;
  }
  view.lastAt = t;
  view.silence.record(t, packet.sentAtMs, packet.sequence);
  if (view.tracker.record(packet.sequence)) {
    view.firstAt = t;
    emit(
      'first',
      {
        group: formatIpv4(packet.group),
        latencyMs: t - view.joinedAt,
        transitMs: t - packet.sentAtMs,
        sequence: packet.sequence,
      },
      t,
    );
  }
});
receiver.on('error', (error) => emit('error', { message: `udp: ${error.message}` }));
await new Promise<void>((resolve) => receiver.bind(config.port, resolve));

// A socket's memberships also cost socket option memory (net.core.optmem_max: 20 KB on
// Debian's 6.1 kernel, ENOBUFS after ~420 groups). Past MEMBERSHIPS_PER_SOCKET, groups are
// held by sockets bound to another port: the kernel's membership (and so the report) is the
// same, and with IP_MULTICAST_ALL the receiver still gets every joined group's stream.
const MEMBERSHIPS_PER_SOCKET = 200;
const HOLDER_SOCKETS = 5; // room for 1,200 groups, above the bench's 1,000
const holders = [receiver];
for (let i = 0; i < HOLDER_SOCKETS; i++) {
  const holder = dgram.createSocket({ type: 'udp4' });
  holder.on('error', (error) => emit('error', { message: `udp holder: ${error.message}` }));
  await new Promise<void>((resolve) => holder.bind(0, resolve));
  holders.push(holder);
}
const holderOf = new Map<number, dgram.Socket>();
const heldBy = new Map<dgram.Socket, number>();

function addMembership(group: number): void {
  const socket = holders.find((candidate) => (heldBy.get(candidate) ?? 0) < MEMBERSHIPS_PER_SOCKET);
  if (socket === undefined) throw new Error(`more than ${MEMBERSHIPS_PER_SOCKET * holders.length} groups at once`);
  socket.addMembership(formatIpv4(group), config.address);
  holderOf.set(group, socket);
  heldBy.set(socket, (heldBy.get(socket) ?? 0) + 1);
}

function dropMembership(group: number): void {
  const socket = holderOf.get(group) ?? receiver;
  socket.dropMembership(formatIpv4(group), config.address);
  holderOf.delete(group);
  heldBy.set(socket, Math.max(0, (heldBy.get(socket) ?? 1) - 1));
}

function groupOf(command: Command): number {
  const group = parseIpv4(stringField(command, 'group'));
  if (group === undefined || !isMulticast(group)) throw new Error(`not a multicast group: ${String(command.group)}`);
  return group;
}

function join(group: number): number {
  if (viewing.has(group)) throw new Error(`already joined ${formatIpv4(group)}`);
  const t = monotonicMs();
  addMembership(group);
  viewing.set(group, { joinedAt: t, tracker: new SequenceTracker(), silence: new SilenceTracker() });
  return t;
}

function viewStats(view: Viewing): Record<string, unknown> {
  const { packets, gaps, outOfOrder, lost } = view.tracker;
  return {
    packets,
    gaps,
    outOfOrder,
    lost,
    joinedAt: view.joinedAt,
    firstAt: view.firstAt,
    lastAt: view.lastAt,
    longestSilenceMs: view.silence.longestMs,
    longestSilenceEndedAt: view.silence.longestEndedAt,
    longestSilenceSendGapMs: view.silence.longestSendGapMs,
    longestSilenceSkipped: view.silence.longestSkipped,
  };
}

// --- sniffer ----------------------------------------------------------------------------------
let sniffer: number | undefined;
const wire = new Map<number, { packets: number; lastAt: number }>();

function describe(message: IgmpMessage): Record<string, unknown> {
  switch (message.type) {
    case 'query':
      return {
        type: 'query',
        version: message.version,
        group: formatIpv4(message.group),
        maxResponseMs: message.maxResponseMs,
      };
    case 'v3-report':
      return {
        type: 'v3-report',
        records: message.records.map((record) => ({
          recordType: record.recordType,
          group: formatIpv4(record.group),
          sources: record.sources.map(formatIpv4),
        })),
      };
    default:
      return { type: message.type, group: formatIpv4(message.group) };
  }
}

function startSniffer(): void {
  if (sniffer !== undefined) return;
  const native = nativeShim();
  const fd = native.socket(AF_PACKET, SOCK_DGRAM, ETH_P_ALL_NETWORK_ORDER);
  sniffer = fd;
  // Room for a burst (10,000 flood packets arrive faster than JS reads them); as root,
  // SO_RCVBUFFORCE goes past net.core.rmem_max.
  native.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, packInt(SNIFFER_BUFFER_BYTES));
  native.receive(fd, (error, data) => {
    const t = monotonicMs();
    if (error || !data) return emit('error', { message: `sniffer: ${error?.message}` });
    if (data.length < 20 || (data[0] as number) >> 4 !== 4) return; // SOCK_DGRAM: the IP packet, no link header
    const protocol = data[9];
    const destination = data.readUInt32BE(16);
    if (protocol === 17 && isMulticast(destination)) {
      const entry = wire.get(destination) ?? { packets: 0, lastAt: t };
      entry.packets++;
      entry.lastAt = t;
      wire.set(destination, entry);
      return;
    }
    if (protocol !== IPPROTO_IGMP) return;
    const packet = parseIpv4Packet(data);
    if (!packet.ok) return emit('igmp', { unparsed: packet.reason }, t);
    const message = parseIgmp(packet.value.payload);
    emit(
      'igmp',
      {
        dir: packet.value.source === ownAddress ? 'out' : 'in',
        from: formatIpv4(packet.value.source),
        to: formatIpv4(packet.value.destination),
        ttl: packet.value.ttl,
        tos: packet.value.tos,
        routerAlert: packet.value.routerAlert,
        ...(message.ok ? { message: describe(message.value) } : { unparsed: message.reason }),
      },
      t,
    );
  });
}

// --- raw IGMP sender -----------------------------------------------------------------------------
let rawSender: number | undefined;

async function mcastSend(command: Command): Promise<Record<string, unknown>> {
  const native = nativeShim();
  rawSender ??= native.socket(AF_INET, SOCK_RAW, IPPROTO_IGMP); // the kernel builds the IP header, protocol 2
  const destination = parseIpv4(stringField(command, 'destination'));
  if (destination === undefined) throw new Error('bad destination');
  // The IP TTL of what follows (1, as every RFC host sends IGMP, unless a test asks otherwise).
  const ttl = numberField(command, 'ttl', 1);
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new Error(`bad ttl ${ttl}`);
  native.setsockopt(rawSender, IPPROTO_IP, IP_MULTICAST_TTL, packInt(ttl));
  const payloads: Buffer[] = Array.isArray(command.payloads)
    ? command.payloads.map((hex) => Buffer.from(String(hex), 'hex'))
    : malformedIgmpPayloads(numberField(command, 'count'), numberField(command, 'seed', 1)).map((entry) => entry.bytes);
  if (payloads.length > MAX_SEND_COUNT) throw new Error(`at most ${MAX_SEND_COUNT} payloads`);
  const deadline = monotonicMs() + numberField(command, 'maxDurationMs', 30_000);
  const started = monotonicMs();
  let sent = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  for (const payload of payloads) {
    if (monotonicMs() > deadline) break;
    for (let attempt = 0; ; attempt++) {
      try {
        native.send(rawSender, payload, destination, ifindex);
        sent++;
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'ERROR';
        // A full send buffer is back-pressure, not a verdict: wait a moment and retry.
        if ((code === 'EAGAIN' || code === 'ENOBUFS') && attempt < 50) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        failed++;
        errors[code] = (errors[code] ?? 0) + 1;
        break;
      }
    }
    if ((sent + failed) % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { sent, failed, errors, requested: payloads.length, durationMs: monotonicMs() - started };
}

serveCommands(
  {
    join(command) {
      return { t: join(groupOf(command)) };
    },
    /** Joins many groups back to back; returns the join time of each. */
    'join-many'(command) {
      const groups = Array.isArray(command.groups) ? command.groups.map(String) : [];
      const joined: Record<string, number> = {};
      const failures: Record<string, string> = {};
      for (const text of groups) {
        try {
          joined[text] = join(groupOf({ cmd: 'join', group: text }));
        } catch (error) {
          failures[text] = (error as Error).message;
        }
      }
      return { joined, failures };
    },
    leave(command) {
      const group = groupOf(command);
      const view = viewing.get(group);
      if (!view) throw new Error(`not joined: ${formatIpv4(group)}`);
      const t = monotonicMs();
      dropMembership(group);
      viewing.delete(group);
      return { t, ...viewStats(view) };
    },
    /** A channel change: leave one group and join the next in one step, as a TV's zap does. */
    zap(command) {
      const previous = parseIpv4(stringField(command, 'from'));
      const view = previous === undefined ? undefined : viewing.get(previous);
      if (previous === undefined || !view) throw new Error(`not joined: ${String(command.from)}`);
      const next = groupOf({ cmd: 'zap', group: command.to });
      const t = monotonicMs();
      dropMembership(previous);
      viewing.delete(previous);
      return { t, joinedAt: join(next), left: viewStats(view) };
    },
    'leave-all'() {
      const t = monotonicMs();
      for (const group of viewing.keys()) dropMembership(group);
      const count = viewing.size;
      viewing.clear();
      return { t, count };
    },
    stats() {
      return {
        groups: Object.fromEntries([...viewing].map(([group, view]) => [formatIpv4(group), viewStats(view)])),
        unexpected: Object.fromEntries([...unexpected].map(([group, count]) => [formatIpv4(group), count])),
      };
    },
    sniff() {
      startSniffer();
    },
    'wire-stats'() {
      if (sniffer === undefined) throw new Error('sniffer not started');
      return {
        now: monotonicMs(),
        groups: Object.fromEntries([...wire].map(([group, entry]) => [formatIpv4(group), entry])),
      };
    },
    'mcast-send': mcastSend,
  },
  () => {
    for (const socket of holders) socket.close();
    if (shim && sniffer !== undefined) shim.close(sniffer);
    if (shim && rawSender !== undefined) shim.close(rawSender);
  },
);

emit('ready', { ifindex, address: config.address, pid: process.pid });
