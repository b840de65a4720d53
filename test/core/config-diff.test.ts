// What a reload means for one running interface (core/config-diff.ts), as a pure comparison.
import { describe, expect, it } from 'vitest';
import { interfaceChange } from '../../addon/daemon/core/config-diff.ts';
import { phyint } from './harness.ts';

describe('interfaceChange', () => {
  const lan = phyint('lan1', 'downstream', {
    threshold: 1,
    altnets: ['10.9.9.9/32'],
    filters: [['allow', '239.0.0.0/8']],
  });

  it('the same block (even at another place in the file) keeps the interface with nothing to refresh', () => {
    const moved = {
      ...phyint('lan1', 'downstream', { threshold: 1, altnets: ['10.9.9.9/32'], filters: [['allow', '239.0.0.0/8']] }),
      location: { file: 'x.conf', line: 9, column: 3 },
    };
    expect(interfaceChange(lan, moved)).toEqual({ kind: 'keep', thresholdChanged: false, rateLimitChanged: false });
  });

  it('a new threshold or rate limit keeps the interface and says which to refresh', () => {
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'downstream', { threshold: 3, altnets: ['10.9.9.9/32'], filters: [['allow', '239.0.0.0/8']] }),
      ),
    ).toEqual({
      kind: 'keep',
      thresholdChanged: true,
      rateLimitChanged: false,
    });
    const up = phyint('eth0', 'upstream', { rateLimit: 0 });
    expect(interfaceChange(up, phyint('eth0', 'upstream', { rateLimit: 500 }))).toEqual({
      kind: 'keep',
      thresholdChanged: false,
      rateLimitChanged: true,
    });
  });

  it('changed altnets or filters, in content or order, restart the interface', () => {
    const restart = { kind: 'restart', bringUpAgain: true };
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'downstream', { altnets: ['10.9.9.8/32'], filters: [['allow', '239.0.0.0/8']] }),
      ),
    ).toEqual(restart);
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'downstream', { altnets: ['10.9.9.9/32'], filters: [['deny', '239.0.0.0/8']] }),
      ),
    ).toEqual(restart);
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'downstream', { altnets: ['10.9.9.9/32'], filters: [['allow', '239.0.0.0/16']] }),
      ),
    ).toEqual(restart);
    const two = phyint('lan1', 'downstream', {
      filters: [
        ['allow', '239.0.0.0/8'],
        ['deny', '239.1.0.0/16'],
      ],
    });
    expect(
      interfaceChange(
        two,
        phyint('lan1', 'downstream', {
          filters: [
            ['deny', '239.1.0.0/16'],
            ['allow', '239.0.0.0/8'],
          ],
        }),
      ),
    ).toEqual(restart);
  });

  it('a new role restarts it; disabled or removed, it is not brought up again', () => {
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'upstream', { altnets: ['10.9.9.9/32'], filters: [['allow', '239.0.0.0/8']] }),
      ),
    ).toEqual({ kind: 'restart', bringUpAgain: true });
    expect(
      interfaceChange(
        lan,
        phyint('lan1', 'disabled', { altnets: ['10.9.9.9/32'], filters: [['allow', '239.0.0.0/8']] }),
      ),
    ).toEqual({ kind: 'restart', bringUpAgain: false });
    expect(interfaceChange(lan, undefined)).toEqual({ kind: 'restart', bringUpAgain: false });
  });
});
