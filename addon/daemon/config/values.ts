// Validation of keyword arguments: numbers, A.B.C.D[/N] networks and interface names.
// Each returns either a value or the reason: what is wrong and how to write it.
import { makeCidr, parseIpv4, prefixMask } from '../net/ipv4.ts';
import type { Cidr, Ipv4 } from '../net/ipv4.ts';
import type { Result } from '../result.ts';

/** Linux IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15;

/** A token as it may appear inside a message: quoted, escaped, shortened. */
export function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  // Control and non-ASCII characters are shown escaped so the message shows what is there.
  const escaped = shown.replace(/[^\x21-\x7e]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return `\`${escaped}\``;
}

/** A decimal integer within [min, max]; no sign, no exponent, no hex. */
export function checkInteger(text: string, min: number, max: number, what: string): Result<number> {
  if (!/^[0-9]+$/.test(text)) {
    return { ok: false, reason: `${what} must be a whole number from ${min} to ${max}, not ${quote(text)}` };
  }
  const value = text.length > 15 ? Infinity : Number(text);
  if (value < min || value > max) {
    return {
      ok: false,
      reason: `${what} must be from ${min} to ${max}, not ${text.length > 15 ? quote(text) : value}`,
    };
  }
  return { ok: true, value };
}

export interface CheckedNetwork {
  readonly cidr: Cidr;
  /** The address as written, before the host bits were cleared. */
  readonly written: Ipv4;
}

function checkAddress(text: string, whole: string): Result<Ipv4> {
  const parts = text.split('.');
  const allDigits = parts.every((part) => /^[0-9]+$/.test(part));
  if (parts.length !== 4 || !allDigits) {
    return { ok: false, reason: `${quote(whole)} is not an IPv4 address: write A.B.C.D or A.B.C.D/N` };
  }
  for (const part of parts) {
    if (part.length > 3 || Number(part) > 255) {
      return {
        ok: false,
        reason: `${quote(whole)} is not an IPv4 address: ${quote(part)} is not a number from 0 to 255`,
      };
    }
  }
  if (parts.some((part) => part.length > 1 && part.startsWith('0'))) {
    // C's inet_addr reads 010 as octal 8; refusing is safer than guessing which was meant.
    return {
      ok: false,
      reason: `${quote(whole)} has an octet with a leading zero, which C igmpproxy reads as octal; write it without leading zeros`,
    };
  }
  const address = parseIpv4(text);
  if (address === undefined) return { ok: false, reason: `${quote(whole)} is not an IPv4 address` };
  return { ok: true, value: address };
}

function prefixLengthOfMask(mask: Ipv4): number | undefined {
  for (let length = 0; length <= 32; length++) if (prefixMask(length) === mask) return length;
  return undefined;
}

/** `A.B.C.D` (a /32) or `A.B.C.D/N`; host bits are cleared and `written` keeps the original. */
export function checkNetwork(text: string): Result<CheckedNetwork> {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = checkAddress(addressText, text);
  if (!address.ok) return address;
  if (slash === -1) return { ok: true, value: { cidr: makeCidr(address.value, 32), written: address.value } };

  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,2}$/.test(prefixText) || Number(prefixText) > 32) {
    const mask = parseIpv4(prefixText);
    const maskLength = mask === undefined ? undefined : prefixLengthOfMask(mask);
    const hint = maskLength === undefined ? '' : ` (the netmask ${prefixText} is /${maskLength})`;
    return {
      ok: false,
      reason: `${quote(text)}: the prefix length after / must be a number from 0 to 32${hint}`,
    };
  }
  const prefixLength = Number(prefixText);
  return { ok: true, value: { cidr: makeCidr(address.value, prefixLength), written: address.value } };
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** The rules Linux applies to network device names (dev_valid_name). */
export function checkInterfaceName(name: string): Result<string> {
  const bytes = utf8Length(name);
  if (bytes > MAX_INTERFACE_NAME_BYTES) {
    return {
      ok: false,
      reason: `interface name ${quote(name)} is ${bytes} bytes long; Linux allows at most ${MAX_INTERFACE_NAME_BYTES}`,
    };
  }
  if (name === '.' || name === '..') return { ok: false, reason: `${quote(name)} is not a valid interface name` };
  if (name.includes('/')) return { ok: false, reason: `interface name ${quote(name)} must not contain /` };
  if (/[\x00-\x1f\x7f]/.test(name)) {
    return { ok: false, reason: `interface name ${quote(name)} contains a control character` };
  }
  return { ok: true, value: name };
}
