// Switching IFF_MULTICAST back on for an interface through rtnetlink (RTM_NEWLINK with
// ifi_change): IPFire's red.up/10-multicast switches multicast off on red after every
// (re)connect, which would silently stop IPTV on a ppp0 or red0 upstream.
import { AF_NETLINK, NETLINK_ROUTE, SOCK_RAW } from './mroute.ts';
import { IFF_MULTICAST } from './interfaces.ts';
import type { IgmpShim } from './shim.ts';

const RTM_NEWLINK = 16;
const NLM_F_REQUEST = 0x1;
const AF_UNSPEC = 0;
const NLMSGHDR_BYTES = 16;
const IFINFOMSG_BYTES = 16;

/** struct nlmsghdr + struct ifinfomsg asking the kernel to set `flag` on `ifindex`. */
export function packSetLinkFlag(ifindex: number, flag: number, on: boolean, sequence: number): Buffer {
  const message = Buffer.alloc(NLMSGHDR_BYTES + IFINFOMSG_BYTES);
  message.writeUInt32LE(message.length, 0); // nlmsg_len (host order: netlink is native-endian)
  message.writeUInt16LE(RTM_NEWLINK, 4); // nlmsg_type
  message.writeUInt16LE(NLM_F_REQUEST, 6); // nlmsg_flags
  message.writeUInt32LE(sequence >>> 0, 8); // nlmsg_seq
  message.writeUInt32LE(0, 12); // nlmsg_pid: the kernel
  message.writeUInt8(AF_UNSPEC, 16); // ifi_family
  message.writeUInt16LE(0, 18); // ifi_type
  message.writeInt32LE(ifindex, 20); // ifi_index
  message.writeUInt32LE(on ? flag : 0, 24); // ifi_flags
  message.writeUInt32LE(flag, 28); // ifi_change: only this bit
  return message;
}

/** Sends the request on a short-lived netlink socket; throws with the errno code on failure. */
export function setMulticastFlag(shim: IgmpShim, ifindex: number): void {
  const fd = shim.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    shim.send(fd, packSetLinkFlag(ifindex, IFF_MULTICAST, true, Date.now()), null, 0);
  } finally {
    shim.close(fd);
  }
}
