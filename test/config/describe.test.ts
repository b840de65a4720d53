// describeConfig prints the effective configuration; parsing it gives the same config back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../../addon/daemon/config/describe.ts';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { expectOk, expectRoundTrip, lines } from './helpers.ts';

const read = (relative: string) => readFileSync(new URL(relative, import.meta.url), 'utf8');

describe('describeConfig', () => {
  it('prints the VLAN 8 seed normalised: defaults spelled out, host bits cleared, no `;`', () => {
    const config = expectOk(parseConfig(read('../fixtures/config/seed-vlan8.conf'), '/etc/igmpproxy.conf'));
    expect(describeConfig(config)).toBe(
      [
        '# Effective configuration read from /etc/igmpproxy.conf',
        'quickleave',
        'stallalarm 10',
        'rpfilter auto',
        'maxgroups 2048',
        'maxgroupsperhost 512',
        'maxsources 64',
        'igmpttl 1',
        'phyint red0.8 upstream ratelimit 0 threshold 1',
        '    altnet 239.0.0.0/8',
        '    altnet 217.0.0.0/16',
        '    altnet 193.158.35.0/24',
        'phyint green0 downstream ratelimit 0 threshold 1',
        '    altnet 192.168.40.200/32',
        'phyint lo disabled ratelimit 0 threshold 1',
        'phyint blue0 disabled ratelimit 0 threshold 1',
        'phyint red0 disabled ratelimit 0 threshold 1',
        'phyint tun0 disabled ratelimit 0 threshold 1',
        'phyint ppp0 disabled ratelimit 0 threshold 1',
        'phyint imq0 disabled ratelimit 0 threshold 1',
        'phyint mast0 disabled ratelimit 0 threshold 1',
        '',
      ].join('\n'),
    );
  });

  it('round-trips the seeds, the template and a config using every keyword', () => {
    const everything = [
      'phyint early0',
      'quickleave hashtablesize 4096 defaultdown rescanvif chroot /var/empty user nobody stallalarm off rpfilter keep maxgroups 100 maxgroupsperhost 10 maxsources 8 igmpttl any',
      'phyint wan0 upstream ratelimit 0 threshold 1 altnet 0.0.0.0/0 whitelist 232.0.0.0/8',
      'phyint lan0 threshold 5 whitelist 239.0.0.0/8 blacklist 239.255.255.250 whitelist 239.255.0.0/16',
      'phyint wan0 downstream',
      'phyint off0 disabled',
    ].join('\n');
    const texts = [
      read('../fixtures/config/seed-vlan8.conf'),
      read('../fixtures/config/seed-bng.conf'),
      read('../../addon/etc/igmpproxy.conf'),
      everything,
    ];
    for (const text of texts) expectRoundTrip(expectOk(parseConfig(text, 'x.conf')));
  });

  it('the described text itself parses without warnings about syntax', () => {
    const config = expectOk(parseConfig(read('../fixtures/config/seed-bng.conf'), 'x.conf'));
    const again = parseConfig(describeConfig(config), 'x.conf');
    expect(lines(again.warnings).filter((line) => line.includes('`;`') || line.includes('host bits'))).toEqual([]);
  });
});
