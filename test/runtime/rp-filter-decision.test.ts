// The pure decision: which upstream strict reverse-path filtering would starve, and
// whether a switched value may be put back.
import { describe, expect, test } from 'vitest';
import { decideRestore, decideRpFilter } from '../../addon/daemon/runtime/rp-filter-decision.ts';
import { effectiveRpFilter, probeAddress, reversePathDrops } from '../../addon/daemon/net/reverse-path.ts';
import type { RouteBack, UpstreamFacts } from '../../addon/daemon/runtime/rp-filter-decision.ts';
import { formatIpv4, makeCidr, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';

const RED8 = 5; // red0.8, where the streams arrive
const PPP0 = 9; // ppp0, the default route
const cidr = (text: string) => {
  const [address, length] = text.split('/');
  return makeCidr(parseIpv4(address as string) as number, Number(length));
};
const route = (altnet: string, outIfindex: number | undefined): RouteBack => ({
  altnet: cidr(altnet),
  probe: probeAddress(cidr(altnet)),
  outIfindex,
  outName: outIfindex === PPP0 ? 'ppp0' : outIfindex === RED8 ? 'red0.8' : undefined,
});
const facts = (all: number, own: number, routes: RouteBack[]): UpstreamFacts => ({
  name: 'red0.8',
  ifindex: RED8,
  all,
  own,
  routes,
});

describe('decideRpFilter', () => {
  test.each([
    [
      'sources route back through the upstream',
      facts(1, 1, [route('217.0.0.0/16', RED8)]),
      'keep',
      /every altnet goes out through it/,
    ],
    [
      'through another interface (legacy line: ppp0)',
      facts(1, 1, [route('217.0.0.0/16', PPP0)]),
      'loosen',
      /conf\/red0\.8 = 1.*217\.0\.0\.0\/16: the route back to it goes out through ppp0 \(asked for 217\.0\.0\.1\)/,
    ],
    [
      'one of two altnets elsewhere is enough',
      facts(1, 1, [route('217.0.0.0/16', RED8), route('193.158.35.0/24', PPP0)]),
      'loosen',
      /193\.158\.35\.0\/24/,
    ],
    [
      'no route back at all (ppp0 not up yet)',
      facts(1, 1, [route('217.0.0.0/16', undefined)]),
      'loosen',
      /there is no route back to it/,
    ],
    [
      'conf/all = 1 makes a 0 on the interface strict',
      facts(1, 0, [route('217.0.0.0/16', PPP0)]),
      'loosen',
      /conf\/all = 1/,
    ],
    [
      'interface 1 with conf/all 0 is strict too',
      facts(0, 1, [route('217.0.0.0/16', PPP0)]),
      'loosen',
      /conf\/red0\.8 = 1/,
    ],
    ['already off (0 and 0)', facts(0, 0, [route('217.0.0.0/16', PPP0)]), 'keep', /off \(0\) already/],
    ['already loose on the interface', facts(1, 2, [route('217.0.0.0/16', PPP0)]), 'keep', /loose \(2\) already/],
    ['already loose through conf/all', facts(2, 1, [route('217.0.0.0/16', PPP0)]), 'keep', /loose \(2\) already/],
    ['no altnet: sources in its own subnet', facts(1, 1, []), 'keep', /no altnet/],
  ] as const)('%s', (_, input, action, reason) => {
    const decision = decideRpFilter(input);
    expect(decision.action).toBe(action);
    expect(decision.reason).toMatch(reason);
    if (decision.action === 'loosen') expect(decision.previous).toBe(input.own);
  });

  test('the effective value is the larger of conf/all and the interface', () => {
    expect([
      effectiveRpFilter(1, 0),
      effectiveRpFilter(0, 1),
      effectiveRpFilter(1, 2),
      effectiveRpFilter(0, 0),
    ]).toEqual([1, 1, 2, 0]);
  });

  test('probe addresses: first host, the address itself for /31 and /32, 0.0.0.1 (default route) for /0', () => {
    expect(
      ['217.0.0.0/16', '193.158.35.0/24', '10.0.0.7/32', '10.0.0.6/31', '0.0.0.0/0'].map((text) =>
        formatIpv4(probeAddress(cidr(text))),
      ),
    ).toEqual(['217.0.0.1', '193.158.35.1', '10.0.0.7', '10.0.0.6', '0.0.0.1']);
  });
});

describe("reversePathDrops (the kernel's rule both the daemon and diagnose apply)", () => {
  test.each([
    ['strict, route back through the arrival interface', 1, RED8, RED8, false],
    ['strict, route back elsewhere', 1, RED8, PPP0, true],
    ['strict, no route back', 1, RED8, undefined, true],
    ['loose, route back elsewhere', 2, RED8, PPP0, false],
    ['loose, no route back', 2, RED8, undefined, true],
    ['off, no route back', 0, RED8, undefined, false],
  ] as const)('%s', (_, effective, arrivedOn, routeBackVia, drops) => {
    expect(reversePathDrops(effective, arrivedOn, routeBackVia)).toBe(drops);
  });

  test('interfaces by name work the same (diagnose)', () => {
    expect([
      reversePathDrops(1, 'red0.8', 'red0.8'),
      reversePathDrops(1, 'red0.8', 'ppp0'),
      reversePathDrops(2, 'red0.8', 'ppp0'),
    ]).toEqual([false, true, false]);
  });
});

describe('decideRestore', () => {
  const loosened = { name: 'red0.8', ifindex: RED8, previous: 1 };
  test.each([
    ['still ours: the previous value comes back', { ifindex: RED8, own: 2 }, { action: 'restore', value: 1 }],
    ['gone', undefined, { action: 'skip', reason: 'the interface is gone' }],
    [
      're-created (new ifindex): its value is conf/default, not ours',
      { ifindex: 12, own: 2 },
      { action: 'skip', reason: 'the interface is gone' },
    ],
    [
      'changed by someone else meanwhile',
      { ifindex: RED8, own: 0 },
      { action: 'skip', reason: 'its rp_filter was changed to 0 meanwhile; left so' },
    ],
  ] as const)('%s', (_, now, expected) => {
    expect(decideRestore(loosened, now)).toEqual(expected);
  });
  test('a previous 0 is put back as 0', () => {
    expect(decideRestore({ ...loosened, previous: 0 }, { ifindex: RED8, own: 2 })).toEqual({
      action: 'restore',
      value: 0,
    });
  });
});
