// "Which interface does the route to this address leave by?" asked of the kernel itself
// (rtnetlink RTM_GETROUTE, what `ip route get ADDRESS` does): the answer follows policy
// rules and every routing table, as the kernel's own reverse-path check does.
import { constants } from 'node:os';
import { AF_INET, AF_NETLINK, NETLINK_ROUTE, SOCK_RAW } from './mroute.ts';
import type { IgmpShim } from './shim.ts';
import type { Ipv4 } from '../net/ipv4.ts';

const NLMSG_ERROR = 2;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const NLM_F_REQUEST = 0x1;
const NLMSGHDR_BYTES = 16;
const RTMSG_BYTES = 12;
const RTA_DST = 1;
const RTA_OIF = 4;

export type RouteAnswer =
  | { readonly ok: true; readonly outIfindex: number }
  /** errno name from the kernel: ENETUNREACH, EHOSTUNREACH, … */
  | { readonly ok: false; readonly error: string };

/** struct nlmsghdr + struct rtmsg + RTA_DST: the route to `destination`. */
export function packRouteRequest(destination: Ipv4, sequence: number): Buffer {
  const message = Buffer.alloc(NLMSGHDR_BYTES + RTMSG_BYTES + 8);
  message.writeUInt32LE(message.length, 0); // nlmsg_len (native-endian)
  message.writeUInt16LE(RTM_GETROUTE, 4);
  message.writeUInt16LE(NLM_F_REQUEST, 6);
  message.writeUInt32LE(sequence >>> 0, 8);
  message.writeUInt32LE(0, 12); // nlmsg_pid: the kernel
  message.writeUInt8(AF_INET, 16); // rtm_family
  message.writeUInt8(32, 17); // rtm_dst_len: one address
  // rtm_src_len, tos, table, protocol, scope, type, flags: 0
  message.writeUInt16LE(8, 28); // rta_len
  message.writeUInt16LE(RTA_DST, 30); // rta_type
  message.writeUInt32BE(destination >>> 0, 32); // struct in_addr: network order
  return message;
}

function errnoName(errno: number): string {
  const entry = Object.entries(constants.errno).find(([, value]) => value === errno);
  return entry?.[0] ?? `errno ${errno}`;
}

/**
 * The answer to request `sequence` in one netlink datagram: the outgoing ifindex of an
 * RTM_NEWROUTE, or the errno of an NLMSG_ERROR; undefined when the datagram holds neither
 * (another sequence, or malformed).
 */
export function parseRouteAnswer(datagram: Uint8Array, sequence: number): RouteAnswer | undefined {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  let offset = 0;
  while (offset + NLMSGHDR_BYTES <= datagram.length) {
    const length = view.getUint32(offset, true);
    if (length < NLMSGHDR_BYTES || offset + length > datagram.length) return undefined;
    const type = view.getUint16(offset + 4, true);
    const seq = view.getUint32(offset + 8, true);
    if (seq === sequence >>> 0) {
      if (type === NLMSG_ERROR && length >= NLMSGHDR_BYTES + 4) {
        const errno = -view.getInt32(offset + NLMSGHDR_BYTES, true);
        if (errno === 0) return undefined; // an ACK, not an answer
        return { ok: false, error: errnoName(errno) };
      }
      if (type === RTM_NEWROUTE) {
        let attr = offset + NLMSGHDR_BYTES + RTMSG_BYTES;
        while (attr + 4 <= offset + length) {
          const attrLength = view.getUint16(attr, true);
          const attrType = view.getUint16(attr + 2, true) & 0x3fff; // without NLA_F_NESTED/NET_BYTEORDER
          if (attrLength < 4 || attr + attrLength > offset + length) break;
          if (attrType === RTA_OIF && attrLength >= 8) return { ok: true, outIfindex: view.getUint32(attr + 4, true) };
          attr += (attrLength + 3) & ~3; // RTA_ALIGN
        }
        return { ok: false, error: 'no outgoing interface in the answer' };
      }
    }
    offset += (length + 3) & ~3; // NLMSG_ALIGN
  }
  return undefined;
}

let nextSequence = 1;

/** Asks the kernel once; rejects when no answer came within timeoutMs (the kernel answers at once). */
export function lookupRoute(
  shim: Pick<IgmpShim, 'socket' | 'send' | 'receive' | 'close'>,
  destination: Ipv4,
  timeoutMs = 2_000,
): Promise<RouteAnswer> {
  const sequence = nextSequence;
  nextSequence = (nextSequence % 0x7fffffff) + 1;
  const fd = shim.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  return new Promise<RouteAnswer>((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      shim.close(fd);
      finish();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`no answer from the kernel to a route lookup in ${timeoutMs} ms`))),
      timeoutMs,
    );
    try {
      shim.receive(fd, (error, data) => {
        if (error) {
          settle(() => reject(error));
          return;
        }
        const answer = data === undefined ? undefined : parseRouteAnswer(data, sequence);
        if (answer !== undefined) settle(() => resolve(answer));
      });
      shim.send(fd, packRouteRequest(destination, sequence), null, 0);
    } catch (error) {
      settle(() => reject(error as Error));
    }
  });
}
