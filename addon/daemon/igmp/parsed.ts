import type { Result } from '../result.ts';
// Constructors for Result<T>, so parsers read as "return reject('why')" rather than object literals.

export function accept<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function reject<T = never>(reason: string): Result<T> {
  return { ok: false, reason };
}
