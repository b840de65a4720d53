// RFC 4605 4.1 merge of the downstreams' filters, as a pure function (core/merge.ts).
import { describe, expect, it } from 'vitest';
import { mergeSubscriptions } from '../../addon/daemon/core/merge.ts';
import type { Subscription } from '../../addon/daemon/core/membership.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip } from './harness.ts';

const include = (...sources: string[]): Subscription => ({ mode: 'include', sources: new Set(sources.map(ip)) });
const exclude = (...sources: string[]): Subscription => ({ mode: 'exclude', sources: new Set(sources.map(ip)) });

/** "include [a,b]" with sorted sources, or "none". */
function text(subscription: Subscription | undefined): string {
  if (subscription === undefined) return 'none';
  return `${subscription.mode} [${[...subscription.sources]
    .sort((a, b) => a - b)
    .map(formatIpv4)
    .join(',')}]`;
}

describe('mergeSubscriptions (RFC 4605 4.1)', () => {
  it('nobody listening (no interface, or none with state) merges to nothing', () => {
    expect(text(mergeSubscriptions([]))).toBe('none');
    expect(text(mergeSubscriptions([undefined, undefined]))).toBe('none');
  });

  it('INCLUDE filters merge to the union of their sources', () => {
    expect(
      text(mergeSubscriptions([include('10.0.0.2', '10.0.0.1'), undefined, include('10.0.0.3', '10.0.0.1')])),
    ).toBe('include [10.0.0.1,10.0.0.2,10.0.0.3]');
  });

  it('an INCLUDE with no sources asks for nothing', () => {
    expect(text(mergeSubscriptions([include()]))).toBe('none');
  });

  it('EXCLUDE filters merge to the intersection of their exclude lists', () => {
    expect(text(mergeSubscriptions([exclude('10.0.0.1', '10.0.0.2'), exclude('10.0.0.2', '10.0.0.3')]))).toBe(
      'exclude [10.0.0.2]',
    );
    expect(text(mergeSubscriptions([exclude(), exclude('10.0.0.2')]))).toBe('exclude []');
  });

  it('any EXCLUDE wins over INCLUDE, and what any INCLUDE names is not excluded', () => {
    expect(text(mergeSubscriptions([include('10.0.0.2'), exclude('10.0.0.1', '10.0.0.2'), include('10.0.0.9')]))).toBe(
      'exclude [10.0.0.1]',
    );
    expect(text(mergeSubscriptions([exclude('10.0.0.1'), include('10.0.0.1')]))).toBe('exclude []');
  });

  it('does not modify its inputs', () => {
    const a = exclude('10.0.0.1', '10.0.0.2');
    const b = exclude('10.0.0.2');
    const c = include('10.0.0.2');
    mergeSubscriptions([a, b, c]);
    expect([text(a), text(b), text(c)]).toEqual([
      'exclude [10.0.0.1,10.0.0.2]',
      'exclude [10.0.0.2]',
      'include [10.0.0.2]',
    ]);
  });
});
