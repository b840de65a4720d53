// IPv4 addresses as unsigned 32-bit numbers (host order), the one representation used
// across the daemon: cheap to compare, hash and mask. Strings only at the edges.

export type Ipv4 = number;

export interface Cidr {
  /** Network address with the host bits cleared. */
  readonly network: Ipv4;
  /** 0..32 */
  readonly prefixLength: number;
}

export const ALL_SYSTEMS: Ipv4 = 0xe0000001; // 224.0.0.1, general queries
export const ALL_ROUTERS: Ipv4 = 0xe0000002; // 224.0.0.2, IGMPv2 leaves
export const IGMPV3_ROUTERS: Ipv4 = 0xe0000016; // 224.0.0.22, IGMPv3 reports

/** Parses a strict dotted quad ("192.0.2.1"); undefined when it is not one. */
export function parseIpv4(text: string): Ipv4 | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4(address: Ipv4): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** The netmask for a prefix length, e.g. 24 -> 0xffffff00. */
export function prefixMask(prefixLength: number): number {
  if (prefixLength <= 0) return 0;
  if (prefixLength >= 32) return 0xffffffff;
  return (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function makeCidr(address: Ipv4, prefixLength: number): Cidr {
  return { network: (address & prefixMask(prefixLength)) >>> 0, prefixLength };
}

export function cidrContains(cidr: Cidr, address: Ipv4): boolean {
  return (address & prefixMask(cidr.prefixLength)) >>> 0 === cidr.network;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

/** 224.0.0.0/4 */
export function isMulticast(address: Ipv4): boolean {
  return address >>> 28 === 0xe;
}

/** 224.0.0.0/24: link-local control groups, never routed or proxied (RFC 5771). */
export function isLinkLocalMulticast(address: Ipv4): boolean {
  return address >>> 8 === 0xe00000;
}

/** 232.0.0.0/8: source-specific multicast (RFC 4607). */
export function isSourceSpecificMulticast(address: Ipv4): boolean {
  return address >>> 24 === 232;
}
