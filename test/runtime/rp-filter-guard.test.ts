// The guard around the decision, with a fake kernel (route table, conf values, interfaces):
// switched once with one log line, put back on stop, re-applied to a re-created upstream,
// put back when a reload removes the upstream or says `rpfilter keep`, left alone otherwise.
import { describe, expect, test } from 'vitest';
import { RpFilterGuard } from '../../addon/daemon/runtime/rp-filter-guard.ts';
import type { ConfiguredUpstream, RpFilterIo } from '../../addon/daemon/runtime/rp-filter-guard.ts';
import type { RouteAnswer } from '../../addon/daemon/kernel/route-lookup.ts';
import { formatIpv4, makeCidr, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import type { LogLevel } from '../../addon/daemon/log/logger.ts';

const TELEKOM = makeCidr(parseIpv4('217.0.0.0') as number, 16);

class FakeKernel implements RpFilterIo {
  readonly conf = new Map<string, number>([
    ['all', 1],
    ['red0.8', 1],
    ['ppp0', 1],
  ]);
  readonly interfaces = new Map<string, number>([
    ['red0.8', 5],
    ['ppp0', 9],
  ]);
  /** probe address -> outgoing ifindex (missing: no route) */
  readonly routes = new Map<string, number>([['217.0.0.1', 9]]);
  readonly logs: string[] = [];
  readonly writes: string[] = [];
  lookups = 0;
  failLookups = false;

  async lookupRoute(address: number): Promise<RouteAnswer> {
    this.lookups++;
    if (this.failLookups) throw new Error('no answer from the kernel');
    const out = this.routes.get(formatIpv4(address));
    return out === undefined ? { ok: false, error: 'ENETUNREACH' } : { ok: true, outIfindex: out };
  }
  read(name: string): number {
    const value = this.conf.get(name);
    if (value === undefined) throw new Error(`ENOENT: ${name}`);
    return value;
  }
  write(name: string, value: number): void {
    if (!this.conf.has(name)) throw new Error(`ENOENT: ${name}`);
    this.conf.set(name, value);
    this.writes.push(`${name}=${value}`);
  }
  ifindexOf(name: string): number | undefined {
    return this.interfaces.get(name);
  }
  nameOf(ifindex: number): string | undefined {
    return [...this.interfaces].find(([, index]) => index === ifindex)?.[0];
  }
  log(level: LogLevel, message: string): void {
    if (level !== 'debug') this.logs.push(`${level}: ${message}`);
  }
  /** ppp-style: deleted and made anew, starting from conf/default (1 on IPFire). */
  recreate(name: string, ifindex: number): void {
    this.interfaces.set(name, ifindex);
    this.conf.set(name, 1);
  }
}

const red8 = (kernel: FakeKernel, altnets = [TELEKOM]): ConfiguredUpstream[] => [
  { name: 'red0.8', ifindex: kernel.ifindexOf('red0.8'), altnets },
];

describe('RpFilterGuard', () => {
  test('legacy line: switched to loose once, logged once with the reason, put back on stop', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'auto');
    await guard.review(red8(kernel));
    await guard.review(red8(kernel)); // another interface event: nothing new
    expect(kernel.conf.get('red0.8')).toBe(2);
    expect(kernel.conf.get('all')).toBe(1);
    expect(kernel.logs).toEqual([
      'notice: red0.8: rp_filter set to loose (2) while igmpproxy runs (was 1): strict rp_filter ' +
        '(conf/red0.8 = 1) would drop its streams from altnet 217.0.0.0/16: the route back to it goes out through ppp0 (asked for 217.0.0.1)',
    ]);
    guard.stop();
    expect(kernel.conf.get('red0.8')).toBe(1);
    expect(kernel.logs.at(-1)).toBe('notice: red0.8: rp_filter put back to 1');
    expect(kernel.writes).toEqual(['red0.8=2', 'red0.8=1']);
  });

  test('sources routed back through the upstream, or rp_filter already off or loose: nothing written', async () => {
    for (const setup of [
      (k: FakeKernel) => k.routes.set('217.0.0.1', 5),
      (k: FakeKernel) => {
        k.conf.set('all', 0);
        k.conf.set('red0.8', 0);
      },
      (k: FakeKernel) => k.conf.set('red0.8', 2),
    ]) {
      const kernel = new FakeKernel();
      setup(kernel);
      const guard = new RpFilterGuard(kernel, 'auto');
      await guard.review(red8(kernel));
      guard.stop();
      expect(kernel.writes).toEqual([]);
      expect(kernel.logs).toEqual([]);
    }
  });

  test('`rpfilter keep`: never asks, never writes', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'keep');
    await guard.review(red8(kernel));
    guard.stop();
    expect([kernel.lookups, kernel.writes.length]).toEqual([0, 0]);
  });

  test('upstream deleted and re-created (reconnect): switched again, and only the new one is put back', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'auto');
    await guard.review(red8(kernel));
    kernel.interfaces.delete('red0.8');
    kernel.conf.delete('red0.8');
    await guard.review(red8(kernel));
    kernel.recreate('red0.8', 15);
    await guard.review(red8(kernel));
    expect(kernel.conf.get('red0.8')).toBe(2);
    expect(kernel.logs.filter((line) => line.includes('set to loose'))).toHaveLength(2);
    guard.stop();
    expect(kernel.conf.get('red0.8')).toBe(1);
    expect(kernel.writes).toEqual(['red0.8=2', 'red0.8=2', 'red0.8=1']);
  });

  test('a reload to `rpfilter keep`, or without the upstream, puts the value back at once', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'auto');
    await guard.review(red8(kernel));
    guard.configure('keep');
    expect(kernel.conf.get('red0.8')).toBe(1);
    guard.configure('auto');
    await guard.review(red8(kernel));
    expect(kernel.conf.get('red0.8')).toBe(2);
    await guard.review([]);
    expect(kernel.conf.get('red0.8')).toBe(1);
    guard.stop();
    expect(kernel.writes).toEqual(['red0.8=2', 'red0.8=1', 'red0.8=2', 'red0.8=1']);
  });

  test('a value someone changed meanwhile is theirs: not put back, and said so', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'auto');
    await guard.review(red8(kernel));
    kernel.conf.set('red0.8', 0);
    guard.stop();
    expect(kernel.conf.get('red0.8')).toBe(0);
    expect(kernel.logs.at(-1)).toBe(
      'info: red0.8: rp_filter not put back: its rp_filter was changed to 0 meanwhile; left so',
    );
  });

  test('a failed lookup is a warning and changes nothing; a stop during a review lets it write nothing', async () => {
    const kernel = new FakeKernel();
    kernel.failLookups = true;
    const guard = new RpFilterGuard(kernel, 'auto');
    await guard.review(red8(kernel));
    expect(kernel.writes).toEqual([]);
    expect(kernel.logs).toEqual([
      'warning: red0.8: cannot ask the kernel for the route back to its altnet sources: no answer from the kernel; rp_filter left as it is',
    ]);

    const second = new FakeKernel();
    const stopping = new RpFilterGuard(second, 'auto');
    const review = stopping.review(red8(second));
    stopping.stop(); // SIGTERM while the lookup is under way
    await review;
    expect(second.writes).toEqual([]);
  });

  test('reviews asked for while one runs are merged: the latest list wins', async () => {
    const kernel = new FakeKernel();
    const guard = new RpFilterGuard(kernel, 'auto');
    const first = guard.review([]);
    void guard.review([{ name: 'ppp0', ifindex: 9, altnets: [TELEKOM] }]); // routes back through ppp0: nothing
    const last = guard.review(red8(kernel));
    await first;
    await last;
    expect(kernel.writes).toEqual(['red0.8=2']);
  });
});
