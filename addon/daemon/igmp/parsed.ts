// Constructors for Parsed<T>, so parsers read as "return reject('why')" rather than object literals.
import type { Parsed } from './types.ts';

export function accept<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function reject<T = never>(reason: string): Parsed<T> {
  return { ok: false, reason };
}
