// The interfaces of this network namespace: name, ifindex, flags from /sys/class/net (so
// interfaces without an address, like a just-created ppp0, are seen), IPv4 addresses from
// os.networkInterfaces(). A watcher on rtnetlink (link + IPv4 address groups) rescans when
// the kernel announces a change: no polling, no CPU while idle.
// os.networkInterfaces() (libuv) hides the addresses of an interface that is up but not
// running (no carrier): a bridge loses carrier for a moment whenever its last forwarding
// port goes, e.g. while ports are added and removed. The watcher keeps the last known
// addresses through such a gap unless the kernel announced an address change meanwhile.
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { AF_NETLINK, NETLINK_ROUTE, RTMGRP_IPV4_IFADDR, RTMGRP_LINK, SOCK_RAW } from './mroute.ts';
import { parseIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { InterfaceInfo } from '../core/effects.ts';
import type { IgmpShim } from './shim.ts';

/** <linux/if.h> flags as /sys/class/net/<if>/flags shows them (dev->flags). */
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_MULTICAST = 0x1000;

export interface InterfaceAddress {
  readonly address: Ipv4;
  readonly prefixLength: number;
}

export interface KernelInterface extends InterfaceInfo {
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  readonly multicast: boolean;
  readonly loopback: boolean;
  readonly pointToPoint: boolean;
  /** All IPv4 addresses, primary first; `address`/`prefixLength` repeat the first one. */
  readonly addresses: readonly InterfaceAddress[];
  /**
   * IFF_RUNNING (up, operstate up or unknown). Only then does os.networkInterfaces() show
   * the addresses; for an interface that is not running `addresses` is what was last known.
   */
  readonly running: boolean;
}

/** What /sys says about one interface. */
export interface SysInterface {
  readonly name: string;
  readonly ifindex: number;
  readonly flags: number;
  /** operstate is "up" or "unknown" (the kernel's IFF_RUNNING); absent means running. */
  readonly running?: boolean;
}

export type NetworkInterfaceMap = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * Combines /sys entries and os.networkInterfaces() into the table, sorted by ifindex.
 * libuv lists addresses only of interfaces that are up with carrier (IFF_RUNNING); others
 * get address 0 until the link comes up, which the watcher reports as a change.
 */
export function buildInterfaceTable(sys: readonly SysInterface[], addressMap: NetworkInterfaceMap): KernelInterface[] {
  return sys
    .map((entry): KernelInterface => {
      const addresses: InterfaceAddress[] = [];
      for (const info of addressMap[entry.name] ?? []) {
        if (info.family !== 'IPv4') continue;
        const address = parseIpv4(info.address);
        const prefixLength = Number(info.cidr?.split('/')[1]);
        if (address !== undefined && Number.isInteger(prefixLength)) addresses.push({ address, prefixLength });
      }
      return {
        name: entry.name,
        ifindex: entry.ifindex,
        address: addresses[0]?.address ?? 0,
        prefixLength: addresses[0]?.prefixLength ?? 0,
        addresses,
        up: (entry.flags & IFF_UP) !== 0,
        multicast: (entry.flags & IFF_MULTICAST) !== 0,
        loopback: (entry.flags & IFF_LOOPBACK) !== 0,
        pointToPoint: (entry.flags & IFF_POINTOPOINT) !== 0,
        running: (entry.flags & IFF_UP) !== 0 && entry.running !== false,
      };
    })
    .sort((a, b) => a.ifindex - b.ifindex);
}

/** Reads /sys/class/net; an interface vanishing between readdir and read is skipped. */
export function readSysInterfaces(root = '/sys/class/net'): SysInterface[] {
  const result: SysInterface[] = [];
  for (const name of readdirSync(root)) {
    try {
      const ifindex = Number.parseInt(readFileSync(`${root}/${name}/ifindex`, 'utf8'), 10);
      const flags = Number.parseInt(readFileSync(`${root}/${name}/flags`, 'utf8'), 16);
      if (Number.isInteger(ifindex) && Number.isInteger(flags))
        result.push({ name, ifindex, flags, running: readRunning(`${root}/${name}`) });
    } catch {
      // Gone meanwhile (ENOENT) or not an interface directory: the next scan settles it.
    }
  }
  return result;
}

/**
 * The kernel's netif_oper_up() (operstate up or unknown): what IFF_RUNNING, and so libuv's
 * address list, follows. Unreadable: taken as running, so the addresses seen are believed.
 */
function readRunning(directory: string): boolean {
  try {
    const operstate = readFileSync(`${directory}/operstate`, 'utf8').trim();
    return operstate === 'up' || operstate === 'unknown';
  } catch {
    return true;
  }
}

/** Whether the link has carrier (/sys/class/net/<if>/carrier); undefined when unknown (gone, down). */
export function hasCarrier(name: string, root = '/sys/class/net'): boolean | undefined {
  if (name.includes('/') || name.startsWith('.')) return undefined;
  try {
    const text = readFileSync(`${root}/${name}/carrier`, 'utf8').trim();
    return text === '1' ? true : text === '0' ? false : undefined;
  } catch {
    return undefined; // EINVAL while the interface is down, ENOENT when gone
  }
}

/** The current interface table of this process's network namespace. */
export function readInterfaces(): KernelInterface[] {
  return buildInterfaceTable(readSysInterfaces(), networkInterfaces());
}

export interface InterfaceWatcher {
  /** The table as last reported (or read at start). */
  readonly current: readonly KernelInterface[];
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last netlink message before rescanning (default 100 ms). */
  readonly debounceMs?: number;
  /** Upper bound on the delay under a constant stream of messages (default 1000 ms). */
  readonly maxDelayMs?: number;
  readonly onError?: (error: Error) => void;
  /** Injected for tests; defaults to readInterfaces. */
  readonly read?: () => KernelInterface[];
}

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const AF_INET = 2;
const AF_BRIDGE = 7;
const NLMSGHDR_BYTES = 16;
/** struct ifaddrmsg: family, prefixlen, flags, scope (u8 each), then ifa_index (u32). */
const IFADDRMSG_BYTES = 8;

/** The ifindexes that IPv4 address messages (RTM_NEWADDR/RTM_DELADDR) in the datagram name. */
export function addressChangesIn(datagram: Uint8Array): number[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const ifindexes: number[] = [];
  let offset = 0;
  while (offset + NLMSGHDR_BYTES <= datagram.length) {
    const length = view.getUint32(offset, true);
    if (length < NLMSGHDR_BYTES || offset + length > datagram.length) break;
    const type = view.getUint16(offset + 4, true);
    if (
      (type === RTM_NEWADDR || type === RTM_DELADDR) &&
      length >= NLMSGHDR_BYTES + IFADDRMSG_BYTES &&
      view.getUint8(offset + NLMSGHDR_BYTES) === AF_INET
    ) {
      ifindexes.push(view.getUint32(offset + NLMSGHDR_BYTES + 4, true));
    }
    offset += (length + 3) & ~3; // NLMSG_ALIGN
  }
  return ifindexes;
}

/**
 * The fresh table with the addresses libuv hides filled in: an interface that is up but
 * not running (a bridge between forwarding ports, a cable pulled) keeps the addresses it had
 * as the same device (ifindex), unless an address message for it arrived meanwhile, in which
 * case what can be seen (nothing) is the truth until it runs again. Without this, every
 * carrier blip reads as "address removed" and back.
 */
export function keepHiddenAddresses(
  previous: readonly KernelInterface[],
  fresh: readonly KernelInterface[],
  addressChanged: ReadonlySet<number>,
): KernelInterface[] {
  const before = new Map(previous.map((entry) => [entry.ifindex, entry]));
  return fresh.map((entry) => {
    if (entry.running || !entry.up || entry.addresses.length > 0 || addressChanged.has(entry.ifindex)) return entry;
    const known = before.get(entry.ifindex);
    if (known === undefined || known.name !== entry.name || known.addresses.length === 0) return entry;
    return { ...entry, address: known.address, prefixLength: known.prefixLength, addresses: known.addresses };
  });
}

/**
 * False when a netlink datagram holds only AF_BRIDGE link messages: bridges announce their
 * ports' bridge state with these, periodically, while nothing about the interfaces
 * themselves changed (their flags and addresses come as AF_UNSPEC/AF_INET messages).
 * Rescanning on them would wake an idle daemon every few seconds on a bridged LAN.
 */
export function concernsInterfaces(datagram: Uint8Array): boolean {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let offset = 0;
  let sawMessage = false;
  while (offset + NLMSGHDR_BYTES <= datagram.length) {
    const length = view.getUint32(offset, true);
    if (length < NLMSGHDR_BYTES || offset + length > datagram.length) return true; // malformed: play safe
    const type = view.getUint16(offset + 4, true);
    const family = length > NLMSGHDR_BYTES ? view.getUint8(offset + NLMSGHDR_BYTES) : -1;
    if (!((type === RTM_NEWLINK || type === RTM_DELLINK) && family === AF_BRIDGE)) return true;
    sawMessage = true;
    offset += (length + 3) & ~3; // NLMSG_ALIGN
  }
  return !sawMessage;
}

/**
 * Watches rtnetlink and calls back with the fresh table whenever it differs from the last
 * one. A lost-message error (ENOBUFS) also triggers a rescan, so nothing is missed for good.
 */
export function watchInterfaces(
  shim: Pick<IgmpShim, 'socket' | 'bindNetlink' | 'receive' | 'close'>,
  onChange: (table: readonly KernelInterface[]) => void,
  options: WatchOptions = {},
): InterfaceWatcher {
  const debounceMs = options.debounceMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 1_000;
  const read = options.read ?? readInterfaces;
  let current: readonly KernelInterface[] = [];
  let snapshot = '';
  let timer: NodeJS.Timeout | undefined;
  let firstPendingAt = 0;
  let closed = false;
  /** Interfaces with an IPv4 address message since the last rescan. */
  const addressChanged = new Set<number>();

  const rescan = (): void => {
    timer = undefined;
    if (closed) return;
    let table: KernelInterface[];
    try {
      table = keepHiddenAddresses(current, read(), addressChanged);
    } catch (error) {
      options.onError?.(error as Error);
      return;
    }
    addressChanged.clear();
    const next = JSON.stringify(table);
    if (next === snapshot) return;
    snapshot = next;
    current = table;
    onChange(table);
  };
  const schedule = (): void => {
    const now = Date.now();
    if (timer === undefined) firstPendingAt = now;
    else clearTimeout(timer);
    const wait = Math.max(0, Math.min(debounceMs, firstPendingAt + maxDelayMs - now));
    timer = setTimeout(rescan, wait);
  };

  const fd = shim.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    shim.bindNetlink(fd, RTMGRP_LINK | RTMGRP_IPV4_IFADDR);
    // Subscribed first, read second: a change in between still queues a message.
    current = read();
    snapshot = JSON.stringify(current);
    shim.receive(fd, (error, data) => {
      if (error && error.code !== 'ENOBUFS') options.onError?.(error);
      // Beyond telling bridge-port chatter apart and noting which interfaces had address
      // messages, the content is not needed: the rescan reads the whole truth. A lost
      // message (ENOBUFS) also rescans, and then any hidden address may have changed.
      if (data !== undefined) for (const ifindex of addressChangesIn(data)) addressChanged.add(ifindex);
      if (error?.code === 'ENOBUFS') for (const entry of current) addressChanged.add(entry.ifindex);
      if (error || data === undefined || concernsInterfaces(data)) schedule();
    });
  } catch (error) {
    shim.close(fd);
    throw error;
  }
  return {
    get current() {
      return current;
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      shim.close(fd);
    },
  };
}
