// Legal lines that are probably not what the author meant get a short warning; the file
// still loads. Also the meaning of defaults, roles and filters.
import { describe, expect, it } from 'vitest';
import { MAX_WARNINGS } from '../../addon/daemon/config/diagnostics.ts';
import { VALID_BASE, expectOk, lines, parse, summarise } from './helpers.ts';

/** Parses a valid text and returns its warnings as "test.conf:L:C: warning: message" lines. */
function warningLines(text: string): string[] {
  const result = parse(text);
  expectOk(result);
  return lines(result.warnings);
}

describe('meaning', () => {
  it('a phyint without role is disabled, or downstream after defaultdown', () => {
    const config = expectOk(parse('phyint a0\ndefaultdown\nphyint up0 upstream\nphyint b0\nphyint c0 disabled\n'));
    expect(summarise(config)).toEqual([
      'a0 disabled rl=0 th=1',
      'up0 upstream rl=0 th=1',
      'b0 downstream rl=0 th=1',
      'c0 disabled rl=0 th=1',
    ]);
    expect(config.defaultDown).toBe(true);
  });

  it('the last role in a block wins', () => {
    const result = parse('phyint eth0 downstream upstream\nphyint eth1 upstream disabled downstream\n');
    expect(summarise(expectOk(result))).toEqual(['eth0 upstream rl=0 th=1', 'eth1 downstream rl=0 th=1']);
    expect(lines(result.warnings)).toEqual([
      'test.conf:1:24: warning: `upstream` overrides `downstream` given at line 1:13; the last role wins',
      'test.conf:2:22: warning: `disabled` overrides `upstream` given at line 2:13; the last role wins',
      'test.conf:2:31: warning: `downstream` overrides `disabled` given at line 2:22; the last role wins',
    ]);
  });

  it('whitelist/blacklist keep file order and their locations; options span lines', () => {
    const config = expectOk(
      parse(
        'phyint eth0 upstream\nphyint eth1 downstream threshold 3\n whitelist 239.0.0.0/8\n  blacklist 239.1.2.3\nratelimit 0\n',
      ),
    );
    const eth1 = config.interfaces[1]!;
    expect(summarise(config)[1]).toBe('eth1 downstream rl=0 th=3 allow=239.0.0.0/8 deny=239.1.2.3/32');
    expect(eth1.groupFilters.map((filter) => [filter.location.line, filter.location.column])).toEqual([
      [3, 2],
      [4, 3],
    ]);
  });

  it('top-level settings', () => {
    const config = expectOk(
      parse(`quickleave\nhashtablesize 1024\nrescanvif\nchroot /var/empty\nuser nobody\n${VALID_BASE}`),
    );
    expect(config).toMatchObject({
      quickLeave: true,
      hashTableSize: 1024,
      rescanVif: true,
      chroot: '/var/empty',
      user: 'nobody',
      defaultDown: false,
    });
  });

  it('stallalarm: 10 s by default, seconds or off when given; the last one wins, with a warning', () => {
    expect(expectOk(parse(VALID_BASE)).stallAlarmSeconds).toBe(10);
    expect(expectOk(parse(`stallalarm 30\n${VALID_BASE}`)).stallAlarmSeconds).toBe(30);
    expect(expectOk(parse(`stallalarm off\n${VALID_BASE}`)).stallAlarmSeconds).toBeNull();
    const twice = parse(`stallalarm off\n${VALID_BASE}stallalarm 5\n`);
    expect(expectOk(twice).stallAlarmSeconds).toBe(5);
    expect(lines(twice.warnings)).toEqual([
      'test.conf:4:1: warning: `stallalarm` was already given at line 1; this later value wins',
    ]);
  });

  it('rpfilter: auto by default, keep when given; the last one wins, with a warning', () => {
    expect(expectOk(parse(VALID_BASE)).rpFilter).toBe('auto');
    expect(expectOk(parse(`rpfilter keep\n${VALID_BASE}`)).rpFilter).toBe('keep');
    const twice = parse(`rpfilter keep\n${VALID_BASE}rpfilter auto\n`);
    expect(expectOk(twice).rpFilter).toBe('auto');
    expect(lines(twice.warnings)).toEqual([
      'test.conf:4:1: warning: `rpfilter` was already given at line 1; this later value wins',
    ]);
  });

  it('limits: safe defaults; each keyword sets its own; the last one wins, with a warning', () => {
    expect(expectOk(parse(VALID_BASE)).limits).toEqual({
      groupsPerInterface: 2048,
      groupsPerHost: 512,
      sourcesPerGroup: 64,
    });
    // [text, the limits it gives]
    const cases: [string, { groupsPerInterface: number; groupsPerHost: number; sourcesPerGroup: number }][] = [
      ['maxgroups 100', { groupsPerInterface: 100, groupsPerHost: 512, sourcesPerGroup: 64 }],
      ['maxgroupsperhost 4', { groupsPerInterface: 2048, groupsPerHost: 4, sourcesPerGroup: 64 }],
      ['maxsources 2', { groupsPerInterface: 2048, groupsPerHost: 512, sourcesPerGroup: 2 }],
    ];
    for (const [text, limits] of cases) expect(expectOk(parse(`${text}\n${VALID_BASE}`)).limits).toEqual(limits);
    const twice = parse(`maxgroups 10\n${VALID_BASE}maxgroups 20\n`);
    expect(expectOk(twice).limits.groupsPerInterface).toBe(20);
    expect(lines(twice.warnings)).toEqual([
      'test.conf:4:1: warning: `maxgroups` was already given at line 1; this later value wins',
    ]);
  });

  it('igmpttl: TTL 1 required by default, `any` accepts every TTL', () => {
    expect(expectOk(parse(VALID_BASE)).requireTtlOne).toBe(true);
    expect(expectOk(parse(`igmpttl any\n${VALID_BASE}`)).requireTtlOne).toBe(false);
    expect(expectOk(parse(`igmpttl any\nigmpttl 1\n${VALID_BASE}`)).requireTtlOne).toBe(true);
  });

  it('a `;` is dropped wherever it trails a token, with one note per file', () => {
    const result = parse(
      'quickleave;\nphyint eth0; upstream;\nphyint eth1 downstream ratelimit 0; threshold 2;;\n altnet 10.0.0.1; ;\n',
    );
    expect(summarise(expectOk(result))).toEqual([
      'eth0 upstream rl=0 th=1',
      'eth1 downstream rl=0 th=2 altnet=10.0.0.1/32',
    ]);
    expect(lines(result.warnings)).toEqual([
      'test.conf:1:11: warning: this `;` (and 6 more in this file) is not part of igmpproxy.conf syntax and was ignored; the lines mean the same without it',
    ]);
  });

  it('`#` starts a comment even inside a token', () => {
    const config = expectOk(parse('phyint eth0 upstream#comment\nphyint eth1 downstream altnet 10.0.0.0/8#x\n'));
    expect(summarise(config)).toEqual(['eth0 upstream rl=0 th=1', 'eth1 downstream rl=0 th=1 altnet=10.0.0.0/8']);
  });
});

describe('teaching warnings', () => {
  it('host bits are cleared and named', () => {
    expect(warningLines(`${VALID_BASE}phyint eth2 downstream whitelist 239.1.2.3/16`)).toEqual([
      'test.conf:3:34: warning: `239.1.2.3/16` has host bits set; it means the network 239.1.0.0/16 (write that to silence this)',
    ]);
  });

  it('a multicast altnet on a downstream', () => {
    expect(warningLines(`phyint eth0 upstream\nphyint eth1 downstream altnet 239.0.0.0/8`)).toEqual([
      'test.conf:2:31: warning: altnet 239.0.0.0/8 is a multicast range, but altnet lists unicast networks of hosts that may send joins, so it matches nothing; groups are chosen with whitelist/blacklist',
    ]);
  });

  it('a whitelist or blacklist entry that is not multicast', () => {
    expect(
      warningLines(`phyint eth0 upstream\nphyint eth1 downstream whitelist 192.168.1.0/24 blacklist 0.0.0.0/0`),
    ).toEqual([
      'test.conf:2:34: warning: whitelist 192.168.1.0/24 is not multicast: whitelist/blacklist select groups (224.0.0.0/4), so this entry matches nothing',
    ]);
  });

  it('threshold above 1 on an upstream, ratelimit above 0', () => {
    expect(warningLines('phyint eth0 upstream threshold 2 ratelimit 500\nphyint eth1 downstream threshold 2')).toEqual([
      'test.conf:1:22: warning: threshold 2 has no effect on an upstream interface: it applies to forwarding out of downstream interfaces',
      'test.conf:1:34: warning: ratelimit 500 has no effect: Linux does not enforce multicast rate limits',
    ]);
  });

  it('options on a disabled interface', () => {
    expect(warningLines(`${VALID_BASE}phyint eth2 disabled ratelimit 0 altnet 10.0.0.0/8`)).toEqual([
      'test.conf:3:34: warning: `altnet` has no effect: eth2 is disabled',
    ]);
  });

  it('defaultdown after a phyint without role', () => {
    expect(warningLines(`phyint wlan0\n${VALID_BASE}defaultdown\n`)).toEqual([
      'test.conf:4:1: warning: defaultdown only affects phyint blocks after it: `phyint wlan0` at line 1 has no role and stays disabled; put defaultdown at the top',
    ]);
  });

  it('hashtablesize without quickleave', () => {
    expect(warningLines(`hashtablesize 64\n${VALID_BASE}`)).toEqual([
      'test.conf:1:1: warning: hashtablesize has no effect without quickleave (C igmpproxy refuses such a file)',
    ]);
  });

  it('repeated chroot, user and hashtablesize: the later one wins', () => {
    const result = parse(`user a\nuser b\nchroot /a\nchroot /b\n${VALID_BASE}`);
    expect(expectOk(result)).toMatchObject({ user: 'b', chroot: '/b' });
    expect(lines(result.warnings)).toEqual([
      'test.conf:2:1: warning: `user` was already given at line 1; this later value wins',
      'test.conf:4:1: warning: `chroot` was already given at line 3; this later value wins',
    ]);
  });

  it('no downstream interface', () => {
    expect(warningLines('phyint eth0 upstream\nphyint eth1 disabled\n')).toEqual([
      'test.conf:1:1: warning: no downstream interface, so nothing will be forwarded: mark the LAN side with `phyint IFNAME downstream`',
    ]);
    expect(warningLines('defaultdown\nphyint eth0 upstream\n')).toEqual([]);
  });

  it('several upstreams are fine; more than 32 enabled interfaces are flagged', () => {
    expect(warningLines('phyint a upstream\nphyint b upstream\nphyint c downstream\n')).toEqual([]);
    const many = Array.from({ length: 34 }, (_, i) => `phyint d${i} ${i === 0 ? 'upstream' : 'downstream'}`).join('\n');
    expect(warningLines(many)).toEqual([
      "test.conf:33:1: warning: more than 32 interfaces are enabled, the kernel's limit of multicast interfaces; those beyond it cannot be used when all exist",
    ]);
  });

  it('interface names that look like an address or an alias label, and lo', () => {
    expect(
      warningLines(`${VALID_BASE}phyint 192.168.1.1 downstream\nphyint eth0:1 downstream\nphyint lo downstream`),
    ).toEqual([
      'test.conf:3:8: warning: phyint takes an interface name (like eth0 or red0.8), not an address; `192.168.1.1` matches no interface',
      'test.conf:4:8: warning: `eth0:1` looks like an address label; multicast routing works per device, so name the device (`eth0`)',
      'test.conf:5:1: warning: the loopback interface cannot take part in multicast routing; it is never used',
    ]);
  });

  it('warnings are capped with a final count', () => {
    const text = `${VALID_BASE}${Array.from({ length: 100 }, (_, i) => `phyint x${i} disabled altnet 10.0.0.0/8`).join('\n')}`;
    const warnings = parse(text).warnings;
    expect(warnings).toHaveLength(MAX_WARNINGS + 1);
    expect(warnings.at(-1)!.message).toBe(`${100 - MAX_WARNINGS} more warnings from here on are not shown`);
    expect(warnings.at(-1)!.location.line).toBe(MAX_WARNINGS + 3);
  });
});
