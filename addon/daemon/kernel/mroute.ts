// Linux socket constants and the byte layouts of the few structs the kernel adapter hands
// to setsockopt: <linux/mroute.h> (vifctl, mfcctl), <linux/in.h> (ip_mreqn). Values and
// offsets are checked against the real headers by test/kernel/mroute-layout.test.ts.
// Integers are native-endian (x86_64 and aarch64 are both little-endian), struct in_addr
// is network order.
import { endianness } from 'node:os';
import type { Ipv4 } from '../net/ipv4.ts';

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const IPPROTO_IP = 0;
export const IPPROTO_IGMP = 2;
export const NETLINK_ROUTE = 0;
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;

export const IP_HDRINCL = 3;
export const IP_PKTINFO = 8;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;

export const MRT_INIT = 200;
export const MRT_DONE = 201;
export const MRT_ADD_VIF = 202;
export const MRT_DEL_VIF = 203;
export const MRT_ADD_MFC = 204;
export const MRT_DEL_MFC = 205;
export const MRT_VERSION = 206;
export const MRT_ASSERT = 207;
export const MRT_PIM = 208;
export const MRT_TABLE = 209;
export const MRT_FLUSH = 212;
export const MRT_FLUSH_MFC = 1;
export const MRT_FLUSH_VIFS = 4;

export const MAXVIFS = 32;
export const VIFF_USE_IFINDEX = 0x8;

export const VIFCTL_BYTES = 16;
export const MFCCTL_BYTES = 60;
export const IP_MREQN_BYTES = 12;

/** Offsets inside the structs, exported for the layout test. */
export const VIFCTL_OFFSETS = { vifi: 0, flags: 2, threshold: 3, rateLimit: 4, lclIfindex: 8, rmtAddr: 12 } as const;
export const MFCCTL_OFFSETS = {
  origin: 0,
  mcastgrp: 4,
  parent: 8,
  ttls: 10,
  pktCnt: 44,
  byteCnt: 48,
  wrongIf: 52,
  expire: 56,
} as const;
export const IP_MREQN_OFFSETS = { multiaddr: 0, address: 4, ifindex: 8 } as const;

const LITTLE_ENDIAN = endianness() === 'LE';

/** struct vifctl with VIFF_USE_IFINDEX: the VIF is bound by ifindex, no address needed. */
export function packVifctl(vif: number, ifindex: number, threshold = 1): Buffer {
  checkVif(vif);
  const bytes = Buffer.alloc(VIFCTL_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint16(VIFCTL_OFFSETS.vifi, vif, LITTLE_ENDIAN);
  view.setUint8(VIFCTL_OFFSETS.flags, VIFF_USE_IFINDEX);
  view.setUint8(VIFCTL_OFFSETS.threshold, threshold);
  view.setInt32(VIFCTL_OFFSETS.lclIfindex, ifindex, LITTLE_ENDIAN);
  return bytes;
}

/**
 * struct mfcctl for MRT_ADD_MFC / MRT_DEL_MFC. `ttls` maps output VIF -> TTL threshold
 * (the kernel forwards on a VIF when packet TTL > threshold; 0 means "not an output").
 */
export function packMfcctl(
  source: Ipv4,
  group: Ipv4,
  parentVif: number,
  ttls: ReadonlyMap<number, number> = new Map(),
): Buffer {
  checkVif(parentVif);
  const bytes = Buffer.alloc(MFCCTL_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(MFCCTL_OFFSETS.origin, source, false);
  view.setUint32(MFCCTL_OFFSETS.mcastgrp, group, false);
  view.setUint16(MFCCTL_OFFSETS.parent, parentVif, LITTLE_ENDIAN);
  for (const [vif, ttl] of ttls) {
    checkVif(vif);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new RangeError(`TTL threshold ${ttl} outside 0..255`);
    view.setUint8(MFCCTL_OFFSETS.ttls + vif, ttl);
  }
  return bytes;
}

/** struct ip_mreqn for IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP / IP_MULTICAST_IF by ifindex. */
export function packIpMreqn(group: Ipv4, ifindex: number, address: Ipv4 = 0): Buffer {
  const bytes = Buffer.alloc(IP_MREQN_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(IP_MREQN_OFFSETS.multiaddr, group, false);
  view.setUint32(IP_MREQN_OFFSETS.address, address, false);
  view.setInt32(IP_MREQN_OFFSETS.ifindex, ifindex, LITTLE_ENDIAN);
  return bytes;
}

/** A C int option value. */
export function packInt(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  if (LITTLE_ENDIAN) bytes.writeInt32LE(value);
  else bytes.writeInt32BE(value);
  return bytes;
}

function checkVif(vif: number): void {
  if (!Number.isInteger(vif) || vif < 0 || vif >= MAXVIFS) throw new RangeError(`VIF ${vif} outside 0..${MAXVIFS - 1}`);
}
