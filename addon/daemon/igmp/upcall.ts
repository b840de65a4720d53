// Everything read from the daemon's raw IGMP socket is one of two things: an IGMP datagram,
// or a multicast-routing upcall from the kernel (struct igmpmsg of <linux/mroute.h>, laid
// over an IPv4 header whose protocol byte -- im_mbz -- the kernel sets to 0).
import { parseIgmp } from './codec.ts';
import { IPPROTO_IGMP, parseIpv4Packet } from './ipv4-header.ts';
import { accept, reject } from './parsed.ts';
import type { IgmpMessage, Ipv4Packet, KernelUpcall, UpcallKind } from './types.ts';
import type { Result } from '../result.ts';

/**
 * struct igmpmsg: u32 unused1, u32 unused2, u8 im_msgtype (IP TTL byte), u8 im_mbz (IP
 * protocol byte), u8 im_vif, u8 im_vif_hi (IP checksum bytes), in_addr im_src, im_dst.
 */
export const IGMPMSG_BYTES = 20;
const OFFSET_MSGTYPE = 8;
const OFFSET_MBZ = 9;
const OFFSET_VIF = 10;
const OFFSET_VIF_HI = 11;
const OFFSET_SOURCE = 12;
const OFFSET_GROUP = 16;
/** Byte 9 of an IPv4 header, the protocol; 0 for upcalls. */
const OFFSET_PROTOCOL = 9;

/** IGMPMSG_NOCACHE 1, IGMPMSG_WRONGVIF 2, IGMPMSG_WHOLEPKT 3, IGMPMSG_WRVIFWHOLE 4. */
const UPCALL_KINDS: readonly (UpcallKind | undefined)[] = [undefined, 'nocache', 'wrongvif', 'wholepkt', 'wrvifwhole'];

/**
 * Parses the igmpmsg at the start of an upcall. The kernel fills no IP checksum (im_vif
 * sits there), so none is checked. For WHOLEPKT the original packet follows; it is not
 * needed to route and is ignored.
 */
export function parseUpcall(datagram: Uint8Array): Result<KernelUpcall> {
  if (datagram.length < IGMPMSG_BYTES) return reject(`kernel upcall truncated: ${datagram.length} bytes`);
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (view.getUint8(OFFSET_MBZ) !== 0) return reject('not a kernel upcall: im_mbz is not 0');
  const msgType = view.getUint8(OFFSET_MSGTYPE);
  const kind = UPCALL_KINDS[msgType];
  if (kind === undefined) return reject(`unknown kernel upcall type ${msgType}`);
  return accept({
    kind,
    vif: view.getUint8(OFFSET_VIF) | (view.getUint8(OFFSET_VIF_HI) << 8),
    source: view.getUint32(OFFSET_SOURCE, false),
    group: view.getUint32(OFFSET_GROUP, false),
  });
}

export type RawDatagram =
  | { readonly kind: 'upcall'; readonly upcall: KernelUpcall }
  | { readonly kind: 'igmp'; readonly packet: Ipv4Packet; readonly message: IgmpMessage };

/**
 * The daemon's single entry point for datagrams from the raw socket: protocol 0 is an
 * upcall, protocol 2 an IPv4 datagram carrying IGMP (header and IGMP checksums verified),
 * anything else is rejected. Never throws.
 */
export function classifyRawDatagram(datagram: Uint8Array): Result<RawDatagram> {
  if (datagram.length <= OFFSET_PROTOCOL) return reject(`datagram truncated: ${datagram.length} bytes`);
  const protocol = datagram[OFFSET_PROTOCOL] as number;
  if (protocol === 0) {
    const upcall = parseUpcall(datagram);
    return upcall.ok ? accept({ kind: 'upcall', upcall: upcall.value }) : upcall;
  }
  if (protocol !== IPPROTO_IGMP) return reject(`not IGMP: IP protocol ${protocol}`);
  const packet = parseIpv4Packet(datagram);
  if (!packet.ok) return packet;
  const message = parseIgmp(packet.value.payload);
  if (!message.ok) return message;
  return accept({ kind: 'igmp', packet: packet.value, message: message.value });
}
