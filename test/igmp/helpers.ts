// Test helpers for the IGMP codec: hex literals, addresses and a seeded PRNG.
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import type { Ipv4 } from '../../addon/daemon/net/ipv4.ts';
import { mulberry32 } from '../../scripts/lab/prng.ts';

/** "46 c0 00 20" -> bytes; whitespace is ignored so literals can be grouped by field. */
export function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex literal: ${text}`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let index = 0; index < bytes.length; index++)
    bytes[index] = parseInt(digits.slice(2 * index, 2 * index + 2), 16);
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function ip(text: string): Ipv4 {
  const address = parseIpv4(text);
  if (address === undefined) throw new Error(`bad address in test: ${text}`);
  return address;
}

export { mulberry32 };

export function randomInt(random: () => number, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

export function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = randomInt(random, 256);
  return bytes;
}

/** n distinct-looking source addresses 10.x.y.z, deterministic. */
export function sources(count: number, base = 0x0a000001): Ipv4[] {
  return Array.from({ length: count }, (_, index) => (base + index) >>> 0);
}

/** A copy living at a non-zero offset inside a larger ArrayBuffer, as Node's pooled Buffers do. */
export function atOffset(bytes: Uint8Array, offset = 13): Uint8Array {
  const backing = new Uint8Array(offset + bytes.length + 7).fill(0xee);
  backing.set(bytes, offset);
  return backing.subarray(offset, offset + bytes.length);
}
