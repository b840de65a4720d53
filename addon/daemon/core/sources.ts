// Small set algebra on source address lists, as RFC 3376's tables write it (A+B, A*B, A-B).
import type { Ipv4 } from '../net/ipv4.ts';

export type SourceSet = ReadonlySet<Ipv4>;

export function union(a: Iterable<Ipv4>, b: Iterable<Ipv4>): Set<Ipv4> {
  const result = new Set(a);
  for (const x of b) result.add(x);
  return result;
}

export function intersect(a: Iterable<Ipv4>, b: SourceSet): Set<Ipv4> {
  const result = new Set<Ipv4>();
  for (const x of a) if (b.has(x)) result.add(x);
  return result;
}

export function minus(a: Iterable<Ipv4>, b: SourceSet): Set<Ipv4> {
  const result = new Set<Ipv4>();
  for (const x of a) if (!b.has(x)) result.add(x);
  return result;
}

export function sameSet(a: SourceSet, b: SourceSet): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Sorted array, for deterministic messages and snapshots. */
export function sorted(a: Iterable<Ipv4>): Ipv4[] {
  return [...a].sort((x, y) => x - y);
}
