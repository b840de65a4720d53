// The provider side of the IPTV lab, run inside the isp namespace:
//   node isp-program.ts '<IspProgramConfig as JSON>'
// - an IGMP querier (v2 or v3) on the link to the proxy: general queries every
//   queryIntervalMs, group-specific queries after a leave, like a provider's router;
// - a membership table of the link, fed by the reports the proxy's kernel sends;
// - a multicast source that sends UDP to exactly the groups with listeners on the link
//   (a group can be paused: its membership stays, its packets stop, as when a provider's
//   head-end fails).
// It must be a multicast router to hear reports for groups it has not joined itself
// (the kernel hands such IGMP only to the MRT_INIT socket), so it opens the raw socket
// with MRT_INIT and one VIF on its link -- the isp namespace has no other router.
// JSON lines: see program-io.ts; events: ready, report, query-sent, query-seen, start,
// stop, paused, resumed, malformed, error.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { buildIgmp, buildIpv4Packet, classifyRawDatagram } from '../../addon/daemon/igmp/index.ts';
import type { IgmpQuery } from '../../addon/daemon/igmp/index.ts';
import { MRT_ADD_VIF, packVifctl } from '../../addon/daemon/kernel/mroute.ts';
import { MrouteSocket } from '../../addon/daemon/kernel/raw-socket.ts';
import { loadShim } from '../../addon/daemon/kernel/shim.ts';
import { ALL_SYSTEMS, formatIpv4, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { monotonicMs } from './clock.ts';
import { groupStatements, LinkMemberships } from './isp-memberships.ts';
import type { MembershipChange } from './isp-memberships.ts';
import { emit, numberField, serveCommands } from './program-io.ts';
import type { Command } from './program-io.ts';
import { encodeStreamPacket } from './stream-payload.ts';

export interface IspProgramConfig {
  readonly shim: string;
  readonly ifname: string;
  /** The querier's address on the link. */
  readonly address: string;
  /** Source address of the streams (on the link, or another subnet to exercise altnet). */
  readonly sourceAddress: string;
  readonly version: 2 | 3;
  /** General query interval; 0 sends none (only on command). */
  readonly queryIntervalMs: number;
  readonly queryResponseMs: number;
  readonly robustness: number;
  readonly lastMemberQueryMs: number;
  readonly lastMemberCount: number;
  /** 'query': group-specific queries, stop when nobody answers; 'immediate': stop at once. */
  readonly leaveMode: 'query' | 'immediate';
  readonly port: number;
  readonly packetIntervalMs: number;
  readonly payloadBytes: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as IspProgramConfig;
const NEVER_MS = 1e12;
const MAX_MALFORMED_EVENTS = 100;

let version = config.version;
let leaveMode = config.leaveMode;
let packetIntervalMs = config.packetIntervalMs;
/** Changed by set-query-interval (0: the querier falls silent); memberships keep their configured timeout. */
let queryIntervalMs = config.queryIntervalMs;
const ownAddress = address(config.address);
const ifindex = Number(readFileSync(`/sys/class/net/${config.ifname}/ifindex`, 'utf8'));
const memberships = new LinkMemberships(timers());
const sequence = new Map<number, number>();
const sentThisRun = new Map<number, number>();
/** Groups whose stream is paused on command (membership kept). */
const paused = new Set<number>();
let malformed = 0;
let upcalls = 0;
/** Reports received (datagrams, not records): each 'report' event names its datagram, so a
 * test counts what the provider really got on the wire, however many records each held. */
let reportDatagrams = 0;

function address(text: string): number {
  const value = parseIpv4(text);
  if (value === undefined) throw new Error(`not an IPv4 address: ${text}`);
  return value;
}

function timers(): { membershipMs: number; lastMemberMs: number } {
  const membershipMs =
    config.queryIntervalMs > 0 ? config.robustness * config.queryIntervalMs + config.queryResponseMs : NEVER_MS;
  return { membershipMs, lastMemberMs: config.lastMemberQueryMs * config.lastMemberCount };
}

// --- the raw IGMP socket: querier out, reports in ---------------------------------------
const socket = MrouteSocket.open(loadShim({ path: config.shim }), {
  onDatagram({ data, source }) {
    const parsed = classifyRawDatagram(data);
    if (!parsed.ok) {
      if (++malformed <= MAX_MALFORMED_EVENTS) emit('malformed', { from: formatIpv4(source), reason: parsed.reason });
      return;
    }
    if (parsed.value.kind === 'upcall') {
      upcalls++; // our own VIF makes the kernel ask about data it sees; nothing to route
      return;
    }
    const from = parsed.value.packet.source;
    if (from === ownAddress) return;
    const message = parsed.value.message;
    if (message.type === 'query') {
      emit('query-seen', { from: formatIpv4(from), group: formatIpv4(message.group), version: message.version });
      return;
    }
    const now = monotonicMs();
    const datagram = ++reportDatagrams;
    for (const statement of groupStatements(message)) {
      emit(
        'report',
        {
          from: formatIpv4(from),
          group: formatIpv4(statement.group),
          kind: statement.kind,
          version: statement.version,
          datagram,
          ...(statement.recordType ? { recordType: statement.recordType } : {}),
        },
        now,
      );
      if (statement.kind === 'leave' && leaveMode === 'immediate') {
        const stopped = memberships.drop(statement.group);
        if (stopped) applyChange(stopped, 'leave');
        continue;
      }
      const outcome = memberships.apply(statement, now);
      if (outcome === 'leave-pending') startLastMemberQueries(statement.group);
      else if (outcome) applyChange(outcome, 'report');
    }
    scheduleExpiry();
  },
  onError(error) {
    emit('error', { code: error.code, message: error.message });
  },
});
socket.setOption(MRT_ADD_VIF, packVifctl(0, ifindex));
socket.joinControlGroups(ifindex);

function sendQuery(group: number, maxResponseMs = config.queryResponseMs, queryVersion = version): void {
  const query: IgmpQuery = {
    type: 'query',
    version: queryVersion,
    maxResponseMs,
    group,
    ...(queryVersion === 3
      ? {
          v3: {
            suppressRouterSide: false,
            robustness: config.robustness,
            queryIntervalSeconds: Math.max(1, Math.round((queryIntervalMs || 125_000) / 1000)),
            sources: [],
          },
        }
      : {}),
  };
  const destination = group === 0 ? ALL_SYSTEMS : group;
  const datagram = buildIpv4Packet({
    source: ownAddress,
    destination,
    ttl: 1,
    tos: 0xc0,
    protocol: 2,
    routerAlert: true,
    payload: buildIgmp(query),
  });
  socket.send(datagram, destination, ifindex);
  emit('query-sent', { group: formatIpv4(group), version: queryVersion, maxResponseMs });
}

const lastMemberTimers = new Set<NodeJS.Timeout>();
function startLastMemberQueries(group: number): void {
  sendQuery(group, config.lastMemberQueryMs);
  for (let round = 1; round < config.lastMemberCount; round++) {
    const timer = setTimeout(() => {
      lastMemberTimers.delete(timer);
      if (memberships.has(group)) sendQuery(group, config.lastMemberQueryMs);
    }, round * config.lastMemberQueryMs);
    lastMemberTimers.add(timer);
  }
}

let expiryTimer: NodeJS.Timeout | undefined;
function scheduleExpiry(): void {
  clearTimeout(expiryTimer);
  const deadline = memberships.nextDeadline();
  if (deadline === undefined || deadline >= NEVER_MS / 2) return;
  expiryTimer = setTimeout(
    () => {
      for (const change of memberships.expire(monotonicMs())) applyChange(change, 'expired');
      scheduleExpiry();
    },
    Math.max(0, deadline - monotonicMs()) + 1,
  );
}

let queryTimer: NodeJS.Timeout | undefined;
function startQuerier(): void {
  clearInterval(queryTimer);
  sendQuery(0);
  if (queryIntervalMs > 0) queryTimer = setInterval(() => sendQuery(0), queryIntervalMs);
}

// --- the multicast source -----------------------------------------------------------------
const sender = dgram.createSocket({ type: 'udp4' });
await new Promise<void>((resolve, reject) => {
  sender.once('error', reject);
  sender.bind({ address: config.sourceAddress, port: 0 }, () => {
    sender.off('error', reject);
    resolve();
  });
});
sender.setMulticastInterface(config.sourceAddress);
sender.setMulticastTTL(16); // must survive the proxy's TTL decrement and threshold
sender.setMulticastLoopback(false);
sender.on('error', (error) => emit('error', { message: `udp: ${error.message}` }));

function sendPacket(group: number): void {
  const next = sequence.get(group) ?? 0;
  sequence.set(group, next + 1);
  sentThisRun.set(group, (sentThisRun.get(group) ?? 0) + 1);
  const payload = encodeStreamPacket({ group, sequence: next, sentAtMs: monotonicMs() }, config.payloadBytes);
  sender.send(payload, config.port, formatIpv4(group));
}

function applyChange(change: MembershipChange, reason: string): void {
  const group = formatIpv4(change.group);
  if (change.change === 'started') {
    sentThisRun.set(change.group, 0);
    emit('start', { group });
    // a provider starts at once; the first packet is not delayed by the tick
    if (!paused.has(change.group)) sendPacket(change.group);
  } else {
    emit('stop', { group, reason, sent: sentThisRun.get(change.group) ?? 0 });
    sentThisRun.delete(change.group);
  }
}

let streamTimer: NodeJS.Timeout | undefined;
function startStreams(): void {
  clearInterval(streamTimer);
  streamTimer = setInterval(() => {
    for (const group of memberships.groups) if (!paused.has(group)) sendPacket(group);
  }, packetIntervalMs);
}

// --- commands -------------------------------------------------------------------------------
function groupArgument(command: Command): number {
  return command.group === undefined ? 0 : address(String(command.group));
}

serveCommands(
  {
    'set-version'(command) {
      const value = numberField(command, 'version');
      if (value !== 2 && value !== 3) throw new Error('version must be 2 or 3');
      version = value;
      return { version };
    },
    query(command) {
      const queryVersion = command.version === undefined ? version : numberField(command, 'version');
      if (queryVersion !== 2 && queryVersion !== 3) throw new Error('version must be 2 or 3');
      sendQuery(groupArgument(command), numberField(command, 'maxResponseMs', config.queryResponseMs), queryVersion);
    },
    'set-query-interval'(command) {
      queryIntervalMs = Math.max(0, numberField(command, 'queryIntervalMs'));
      clearInterval(queryTimer);
      // 0: silent from now on (a querier the provider switched off, or IGMP filtered on the way).
      if (queryIntervalMs > 0) startQuerier();
      return { queryIntervalMs };
    },
    'set-rate'(command) {
      packetIntervalMs = Math.max(1, numberField(command, 'packetIntervalMs'));
      startStreams();
      return { packetIntervalMs };
    },
    'set-leave-mode'(command) {
      if (command.mode !== 'query' && command.mode !== 'immediate') throw new Error('mode must be query or immediate');
      leaveMode = command.mode;
      return { leaveMode };
    },
    'stop-group'(command) {
      const stopped = memberships.drop(groupArgument(command));
      if (stopped) applyChange(stopped, 'command');
      return { stopped: stopped !== undefined };
    },
    'pause-group'(command) {
      const group = groupArgument(command);
      paused.add(group);
      emit('paused', { group: formatIpv4(group) });
      return { paused: [...paused].map(formatIpv4) };
    },
    'resume-group'(command) {
      const group = groupArgument(command);
      const was = paused.delete(group);
      emit('resumed', { group: formatIpv4(group) });
      return { resumed: was };
    },
    status() {
      return {
        version,
        leaveMode,
        packetIntervalMs,
        malformed,
        upcalls,
        reportDatagrams,
        paused: [...paused].map(formatIpv4),
        groups: memberships.groups.map(formatIpv4),
        sent: Object.fromEntries([...sentThisRun].map(([group, count]) => [formatIpv4(group), count])),
      };
    },
  },
  () => {
    clearInterval(queryTimer);
    clearInterval(streamTimer);
    clearTimeout(expiryTimer);
    for (const timer of lastMemberTimers) clearTimeout(timer);
    socket.close();
    sender.close();
  },
);

startStreams();
startQuerier();
emit('ready', { ifindex, version, address: config.address, sourceAddress: config.sourceAddress, pid: process.pid });
