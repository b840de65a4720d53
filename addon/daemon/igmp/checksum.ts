// The Internet checksum (RFC 1071): 16-bit one's complement of the one's complement sum
// of big-endian 16-bit words, an odd trailing byte padded with zero on the right.
// Used by both the IPv4 header and IGMP.

/** One's complement sum of bytes[start, end), folded to 16 bits (not complemented). */
export function onesComplementSum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const stop = Math.min(end, bytes.length);
  let sum = 0;
  let index = start;
  // A 64 KiB datagram sums to < 2^32, far inside exact double range: fold once at the end.
  for (; index + 1 < stop; index += 2) {
    sum += ((bytes[index] as number) << 8) | (bytes[index + 1] as number);
  }
  if (index < stop) sum += (bytes[index] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum value to store in a zeroed checksum field covering bytes[start, end). */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return ~onesComplementSum(bytes, start, end) & 0xffff;
}

/** True when bytes[start, end), checksum field included, sums to 0xffff (RFC 1071 section 1). */
export function isChecksumValid(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  return onesComplementSum(bytes, start, end) === 0xffff;
}

/** Computes the checksum over bytes[start, end) and stores it big-endian at fieldOffset (zeroed first). */
export function writeChecksum(bytes: Uint8Array, fieldOffset: number, start = 0, end = bytes.length): void {
  bytes[fieldOffset] = 0;
  bytes[fieldOffset + 1] = 0;
  const value = internetChecksum(bytes, start, end);
  bytes[fieldOffset] = value >>> 8;
  bytes[fieldOffset + 1] = value & 0xff;
}
