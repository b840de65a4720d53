// IPv4 datagrams as a Linux raw IPPROTO_IGMP socket delivers them (header included) and as
// the daemon hands them back with IP_HDRINCL. Only what IGMP needs: addresses, TTL, TOS,
// protocol and the Router Alert option (RFC 2113); every other option is skipped.
import { internetChecksum, isChecksumValid } from './checksum.ts';
import { accept, reject } from './parsed.ts';
import type { Ipv4Packet } from './types.ts';
import type { Result } from '../result.ts';

export const IPPROTO_IGMP = 2;
export const IPV4_MIN_HEADER_BYTES = 20;
/** Header length of what buildIpv4Packet emits with Router Alert on (IHL 6). */
export const IPV4_HEADER_BYTES_WITH_ROUTER_ALERT = 24;
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;

const OPTION_END_OF_LIST = 0;
const OPTION_NO_OPERATION = 1;
/** RFC 2113: copied flag set, class 0, number 20. */
export const OPTION_ROUTER_ALERT = 0x94;
const ROUTER_ALERT_LENGTH = 4;

const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/**
 * Parses a received datagram. A buffer longer than the total length is cut to it (the
 * socket may hand over a larger read buffer); a shorter one is rejected. The returned
 * payload is a copy, so the caller may reuse its receive buffer.
 */
export function parseIpv4Packet(datagram: Uint8Array): Result<Ipv4Packet> {
  if (datagram.length < IPV4_MIN_HEADER_BYTES) {
    return reject(`IPv4 header truncated: ${datagram.length} bytes`);
  }
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const versionAndIhl = view.getUint8(0);
  const version = versionAndIhl >>> 4;
  if (version !== 4) return reject(`IP version ${version}, expected 4`);
  const headerBytes = (versionAndIhl & 0x0f) * 4;
  if (headerBytes < IPV4_MIN_HEADER_BYTES) return reject(`IPv4 IHL ${headerBytes / 4} below 5`);
  if (headerBytes > datagram.length) {
    return reject(`IPv4 header (IHL ${headerBytes / 4}) longer than the ${datagram.length}-byte datagram`);
  }
  const totalLength = view.getUint16(2, false);
  if (totalLength < headerBytes) {
    return reject(`IPv4 total length ${totalLength} below header length ${headerBytes}`);
  }
  if (totalLength > datagram.length) {
    return reject(`IPv4 total length ${totalLength} exceeds the ${datagram.length} bytes received`);
  }
  // The kernel reassembles before delivering to raw sockets, so a fragment here is bogus.
  const fragment = view.getUint16(6, false);
  if ((fragment & FLAG_MORE_FRAGMENTS) !== 0 || (fragment & FRAGMENT_OFFSET_MASK) !== 0) {
    return reject('IPv4 fragment');
  }
  if (!isChecksumValid(datagram, 0, headerBytes)) return reject('IPv4 header checksum mismatch');
  const options = scanOptions(datagram, IPV4_MIN_HEADER_BYTES, headerBytes);
  if (!options.ok) return options;
  return accept({
    source: view.getUint32(12, false),
    destination: view.getUint32(16, false),
    ttl: view.getUint8(8),
    tos: view.getUint8(1),
    protocol: view.getUint8(9),
    routerAlert: options.value.routerAlert,
    // Copy via the constructor: Buffer#slice would return a view, not a copy.
    payload: new Uint8Array(datagram.subarray(headerBytes, totalLength)),
  });
}

interface OptionSummary {
  readonly routerAlert: boolean;
}

/**
 * Walks the options area [start, end) as RFC 791 lays it out: End of List stops the walk
 * (the rest is padding), No Operation is one byte, every other option carries its own
 * length, which must be at least 2 and stay inside the header.
 */
function scanOptions(header: Uint8Array, start: number, end: number): Result<OptionSummary> {
  let routerAlert = false;
  let offset = start;
  while (offset < end) {
    const type = header[offset] as number;
    if (type === OPTION_END_OF_LIST) break;
    if (type === OPTION_NO_OPERATION) {
      offset += 1;
      continue;
    }
    if (offset + 1 >= end) return reject(`IPv4 option 0x${hex2(type)} has no length byte`);
    const length = header[offset + 1] as number;
    if (length < 2) return reject(`IPv4 option 0x${hex2(type)} with length ${length}`);
    if (offset + length > end) return reject(`IPv4 option 0x${hex2(type)} overruns the header`);
    if (type === OPTION_ROUTER_ALERT) {
      if (length !== ROUTER_ALERT_LENGTH) return reject(`IPv4 Router Alert with length ${length}`);
      // Value 0 is "router shall examine packet"; 1..65535 are reserved (RFC 2113), so
      // like Linux we accept them but do not count them as an alert.
      if (header[offset + 2] === 0 && header[offset + 3] === 0) routerAlert = true;
    }
    offset += length;
  }
  return accept({ routerAlert });
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, '0');
}

/**
 * Serialises a datagram for a raw socket with IP_HDRINCL: IHL 6 with the Router Alert
 * option when asked, ID 0 and no fragment flags (the kernel picks an ID), and a correct
 * header checksum even though Linux recomputes it. Throws RangeError on values that do
 * not fit their fields: that is a programming error, not input to tolerate.
 */
export function buildIpv4Packet(packet: Ipv4Packet): Uint8Array {
  requireUnsigned('ttl', packet.ttl, 0xff);
  requireUnsigned('tos', packet.tos, 0xff);
  requireUnsigned('protocol', packet.protocol, 0xff);
  requireUnsigned('source', packet.source, 0xffffffff);
  requireUnsigned('destination', packet.destination, 0xffffffff);
  const headerBytes = packet.routerAlert ? IPV4_HEADER_BYTES_WITH_ROUTER_ALERT : IPV4_MIN_HEADER_BYTES;
  const totalLength = headerBytes + packet.payload.length;
  if (totalLength > IPV4_MAX_TOTAL_LENGTH) {
    throw new RangeError(`IPv4 payload of ${packet.payload.length} bytes does not fit one datagram`);
  }
  const datagram = new Uint8Array(totalLength);
  const view = new DataView(datagram.buffer);
  view.setUint8(0, 0x40 | (headerBytes / 4));
  view.setUint8(1, packet.tos);
  view.setUint16(2, totalLength, false);
  // Bytes 4..7 (identification, flags, fragment offset) stay 0: DF is not set.
  view.setUint8(8, packet.ttl);
  view.setUint8(9, packet.protocol);
  view.setUint32(12, packet.source, false);
  view.setUint32(16, packet.destination, false);
  if (packet.routerAlert) {
    datagram.set([OPTION_ROUTER_ALERT, ROUTER_ALERT_LENGTH, 0, 0], IPV4_MIN_HEADER_BYTES);
  }
  view.setUint16(10, internetChecksum(datagram, 0, headerBytes), false);
  datagram.set(packet.payload, headerBytes);
  return datagram;
}

function requireUnsigned(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`IPv4 ${field} ${value} outside 0..${max}`);
  }
}
