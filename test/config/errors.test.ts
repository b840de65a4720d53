// One test per class of error: exact file:line:col (1-based, column of the offending
// token) and a message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { MAX_ERRORS } from '../../addon/daemon/config/diagnostics.ts';
import { MAX_CONFIG_LENGTH } from '../../addon/daemon/config/parser.ts';
import { VALID_BASE, errorsOf, expectOk, lines, parse, summarise } from './helpers.ts';

/** Parses and returns the errors as "test.conf:L:C: error: message" lines. */
const errorLines = (text: string) => lines(errorsOf(parse(text)));

describe('errors', () => {
  it('NUL byte: reported once where it is, not a hang', () => {
    expect(errorLines(`${VALID_BASE}# ok \0 and \0 again\n`)).toEqual([
      'test.conf:3:6: error: NUL byte in the file: it is binary or corrupted, not an igmpproxy.conf text file',
    ]);
  });

  it('missing argument at the end of the file points at the keyword', () => {
    expect(errorLines(`${VALID_BASE}phyint eth2 downstream\n  altnet`)).toEqual([
      'test.conf:4:3: error: `altnet` needs a network (A.B.C.D or A.B.C.D/N), but the file ends here',
    ]);
    expect(errorLines(`${VALID_BASE}phyint`)).toEqual([
      'test.conf:3:1: error: `phyint` needs an interface name (as in `phyint eth0 upstream`), but the file ends here',
    ]);
    expect(errorLines(`quickleave\n${VALID_BASE}hashtablesize   `)).toEqual([
      'test.conf:4:1: error: `hashtablesize` needs a size in bytes (1 to 536870912), but the file ends here',
    ]);
  });

  it('missing argument before the next keyword leaves that keyword alone', () => {
    const result = parse('phyint eth0 upstream threshold\nphyint eth1 downstream ratelimit\n  altnet 10.0.0.0/8');
    expect(lines(errorsOf(result))).toEqual([
      'test.conf:1:22: error: `threshold` needs a TTL threshold from 1 to 255 before `phyint`',
      'test.conf:2:24: error: `ratelimit` needs a rate in kbit/s (0 = no limit) before `altnet`',
    ]);
  });

  it('unknown keywords, with the nearest keyword suggested when close', () => {
    expect(errorLines(`quickleav\n${VALID_BASE}`)).toEqual([
      'test.conf:1:1: error: unknown keyword `quickleav`: did you mean `quickleave`?',
    ]);
    expect(errorLines(`${VALID_BASE}  Quickleave`)).toEqual([
      'test.conf:3:3: error: unknown keyword `Quickleave`: keywords are lower case, did you mean `quickleave`?',
    ]);
    expect(errorLines(`phyint eth0 upstrem\nphyint eth1 downstream\n`)).toContain(
      'test.conf:1:13: error: unknown keyword `upstrem`: did you mean `upstream`?',
    );
    expect(errorLines(`${VALID_BASE}frobnicate`)).toEqual(['test.conf:3:1: error: unknown keyword `frobnicate`']);
  });

  it('an address without its keyword inside a block is explained', () => {
    expect(errorLines('phyint eth0 upstream altnet 10.0.0.0/8 10.1.0.0/16\nphyint eth1 downstream')).toEqual([
      'test.conf:1:40: error: unexpected address `10.1.0.0/16`: each address needs its own altnet, whitelist or blacklist keyword',
    ]);
  });

  it('a phyint option outside any phyint block is reported once', () => {
    expect(errorLines(`altnet 10.0.0.0/8 whitelist 239.0.0.0/8\n${VALID_BASE}`)).toEqual([
      'test.conf:1:1: error: `altnet` belongs to a phyint block: write it after `phyint IFNAME`',
    ]);
  });

  describe('bad addresses and networks', () => {
    const cases: Array<[string, string]> = [
      ['300.1.1.1', '`300.1.1.1` is not an IPv4 address: `300` is not a number from 0 to 255'],
      ['1.2.3.4/33', '`1.2.3.4/33`: the prefix length after / must be a number from 0 to 32'],
      ['1.2.3.4/', '`1.2.3.4/`: the prefix length after / must be a number from 0 to 32'],
      ['1.2.3.4/8/8', '`1.2.3.4/8/8`: the prefix length after / must be a number from 0 to 32'],
      ['1.2.3', '`1.2.3` is not an IPv4 address: write A.B.C.D or A.B.C.D/N'],
      ['1.2.3.4.5', '`1.2.3.4.5` is not an IPv4 address: write A.B.C.D or A.B.C.D/N'],
      ['ff02::1', '`ff02::1` is not an IPv4 address: write A.B.C.D or A.B.C.D/N'],
      [
        '10.0.0.010',
        '`10.0.0.010` has an octet with a leading zero, which C igmpproxy reads as octal; write it without leading zeros',
      ],
      [
        '10.0.0.0/255.255.0.0',
        '`10.0.0.0/255.255.0.0`: the prefix length after / must be a number from 0 to 32 (the netmask 255.255.0.0 is /16)',
      ],
    ];
    for (const [written, message] of cases) {
      it(`altnet/whitelist/blacklist ${written}`, () => {
        for (const keyword of ['altnet', 'whitelist', 'blacklist']) {
          const text = `${VALID_BASE}phyint eth2 downstream\n\t${keyword}  ${written}\n`;
          expect(errorLines(text)).toEqual([`test.conf:4:${keyword.length + 4}: error: ${message}`]);
        }
      });
    }
  });

  it('threshold outside 1..255', () => {
    expect(errorLines('phyint eth0 upstream\nphyint eth1 downstream threshold 0')).toEqual([
      'test.conf:2:34: error: threshold must be from 1 to 255, not 0',
    ]);
    expect(errorLines('phyint eth0 upstream\nphyint eth1 downstream threshold 256')).toEqual([
      'test.conf:2:34: error: threshold must be from 1 to 255, not 256',
    ]);
    expect(errorLines('phyint eth0 upstream\nphyint eth1 downstream threshold 99999999999999999999')).toEqual([
      'test.conf:2:34: error: threshold must be from 1 to 255, not `99999999999999999999`',
    ]);
  });

  it('non-numeric or negative ratelimit', () => {
    expect(errorLines(`${VALID_BASE}phyint eth2 downstream ratelimit fast`)).toEqual([
      'test.conf:3:34: error: ratelimit must be a whole number from 0 to 2147483647, not `fast`',
    ]);
    expect(errorLines(`${VALID_BASE}phyint eth2 downstream ratelimit -1`)).toEqual([
      'test.conf:3:34: error: ratelimit must be a whole number from 0 to 2147483647, not `-1`',
    ]);
  });

  it('no upstream interface', () => {
    expect(errorLines('phyint eth1 downstream\n')).toEqual([
      'test.conf:1:1: error: no upstream interface: mark the interface facing the provider with `phyint IFNAME upstream`',
    ]);
    expect(errorLines('')).toEqual([
      'test.conf:1:1: error: no upstream interface: mark the interface facing the provider with `phyint IFNAME upstream`',
    ]);
  });

  it('the same interface twice: the first block wins, the later is named in a warning', () => {
    const result = parse('phyint ppp0 disabled\nphyint eth1 downstream\nphyint ppp0 upstream\n');
    expect(lines(errorsOf(result))).toEqual([
      'test.conf:1:1: error: no upstream interface: mark the interface facing the provider with `phyint IFNAME upstream` ' +
        '(`phyint ppp0 upstream` at line 3 is ignored because ppp0 is already configured at line 1)',
    ]);
    expect(lines(result.warnings)).toEqual([
      'test.conf:3:1: warning: this `phyint ppp0` block is ignored: ppp0 is already configured at line 1, and the first block wins',
    ]);
    const valid = parse(`${VALID_BASE}phyint eth1 disabled\n`);
    expect(summarise(expectOk(valid))).toEqual(['eth0 upstream rl=0 th=1', 'eth1 downstream rl=0 th=1']);
    expect(lines(valid.warnings)).toEqual([
      'test.conf:3:1: warning: this `phyint eth1` block is ignored: eth1 is already configured at line 2, and the first block wins',
    ]);
  });

  it('over-long tokens are refused with their length, without a cascade', () => {
    const long = 'x'.repeat(100_000);
    expect(errorLines(`${VALID_BASE}phyint eth2 downstream altnet ${long}\n`)).toEqual([
      'test.conf:3:31: error: this word is 100000 characters long; the limit is 255',
    ]);
    expect(errorLines(`${VALID_BASE}   ${long}`)).toEqual([
      'test.conf:3:4: error: this word is 100000 characters long; the limit is 255',
    ]);
  });

  it('a 10 MB text is refused with a size error before it is read (faster than parsing one at the limit)', () => {
    const line = 'phyint eth9 downstream altnet 10.0.0.0/8\n';
    const huge = `${VALID_BASE}${line.repeat(256_000)}`;
    expect(huge.length).toBeGreaterThan(10_000_000);
    const atLimit = `${VALID_BASE}${line.repeat(Math.floor((MAX_CONFIG_LENGTH - VALID_BASE.length) / line.length))}`;
    // Compared with the same machine in the same moment, not with a fixed time: a refusal that
    // scanned 10 MB would take far longer than one parse of a 256 KiB file.
    let parsing = performance.now();
    errorLines(atLimit);
    parsing = performance.now() - parsing;
    let refusing = performance.now();
    expect(errorLines(huge)).toEqual([
      `test.conf:1:1: error: the file is ${huge.length} characters long; igmpproxy.conf is limited to ${MAX_CONFIG_LENGTH} (256 KiB)`,
    ]);
    refusing = performance.now() - refusing;
    expect(refusing).toBeLessThan(parsing);
  });

  describe('invalid interface names', () => {
    const cases: Array<[string, string]> = [
      ['averyveryverylon', 'interface name `averyveryverylon` is 16 bytes long; Linux allows at most 15'],
      ['eth0/1', 'interface name `eth0/1` must not contain /'],
      ['..', '`..` is not a valid interface name'],
      ['eth\x010', 'interface name `eth\\x010` contains a control character'],
      [
        'äöüäöüäö',
        'interface name `\\xe4\\xf6\\xfc\\xe4\\xf6\\xfc\\xe4\\xf6` is 16 bytes long; Linux allows at most 15',
      ],
    ];
    for (const [name, message] of cases) {
      it(JSON.stringify(name), () => {
        expect(errorLines(`${VALID_BASE}phyint ${name} downstream\n`)).toEqual([`test.conf:3:8: error: ${message}`]);
      });
    }
    it('15 bytes is the longest name accepted', () => {
      expectOk(parse(`${VALID_BASE}phyint abcdefghijklmno downstream\n`));
    });
  });

  it('a keyword where the interface name belongs: reported, the options still read', () => {
    expect(errorLines(`${VALID_BASE}phyint upstream altnet 10.0.0.0/8\n`)).toEqual([
      'test.conf:3:1: error: `phyint` needs an interface name (as in `phyint eth0 upstream`) before `upstream`',
    ]);
  });

  it('top-level values: hashtablesize range, chroot must be absolute, user name', () => {
    expect(errorLines(`quickleave hashtablesize 0\n${VALID_BASE}`)).toEqual([
      'test.conf:1:26: error: hashtablesize must be from 1 to 536870912, not 0',
    ]);
    expect(errorLines(`chroot var/empty\n${VALID_BASE}`)).toEqual([
      'test.conf:1:8: error: chroot needs an absolute directory starting with /, not `var/empty`',
    ]);
    expect(errorLines(`user a:b\n${VALID_BASE}`)).toEqual(['test.conf:1:6: error: `a:b` is not a valid user name']);
  });

  it('stallalarm: seconds from 1 to 86400 or `off`, nothing else', () => {
    expect(errorLines(`stallalarm 0\n${VALID_BASE}`)).toEqual([
      'test.conf:1:12: error: stallalarm must be from 1 to 86400, not 0 (or `off`)',
    ]);
    expect(errorLines(`${VALID_BASE}  stallalarm 10s\n`)).toEqual([
      'test.conf:3:14: error: stallalarm must be a whole number from 1 to 86400, not `10s` (or `off`)',
    ]);
    expect(errorLines(`stallalarm 86401\n${VALID_BASE}`)).toEqual([
      'test.conf:1:12: error: stallalarm must be from 1 to 86400, not 86401 (or `off`)',
    ]);
    expect(errorLines(`stallalarm\n${VALID_BASE}`)).toEqual([
      'test.conf:1:1: error: `stallalarm` needs seconds (1 to 86400) or `off` before `phyint`',
    ]);
  });

  it('rpfilter: `auto` or `keep`, nothing else', () => {
    expect(errorLines(`rpfilter off\n${VALID_BASE}`)).toEqual([
      'test.conf:1:10: error: rpfilter must be `auto` or `keep`, not `off`',
    ]);
    expect(errorLines(`rpfilter\n${VALID_BASE}`)).toEqual([
      'test.conf:1:1: error: `rpfilter` needs `auto` or `keep` before `phyint`',
    ]);
  });

  // [text before VALID_BASE, the error]
  const limitErrors: [string, string][] = [
    ['maxgroups 0', 'test.conf:1:11: error: maxgroups must be from 1 to 65536, not 0'],
    ['maxgroups 65537', 'test.conf:1:11: error: maxgroups must be from 1 to 65536, not 65537'],
    [
      'maxgroupsperhost many',
      'test.conf:1:18: error: maxgroupsperhost must be a whole number from 1 to 65536, not `many`',
    ],
    ['maxsources 1025', 'test.conf:1:12: error: maxsources must be from 1 to 1024, not 1025'],
    [
      'maxsources',
      'test.conf:1:1: error: `maxsources` needs a number of sources per group (1 to 1024) before `phyint`',
    ],
    [
      'igmpttl 64',
      'test.conf:1:9: error: igmpttl takes `1` (only IGMP sent with TTL 1, as RFC hosts do) or `any`, not `64`',
    ],
    ['igmpttl', 'test.conf:1:1: error: `igmpttl` needs `1` (RFC hosts only) or `any` before `phyint`'],
  ];
  it.each(limitErrors)('limits and igmpttl: %s', (line, error) => {
    expect(errorLines(`${line}\n${VALID_BASE}`)).toEqual([error]);
  });

  it('several errors are collected in one pass, in file order', () => {
    const text = 'phyint eth0 upstream threshold 0\n altnet 1.2.3\nphyint eth1 downstream ratelimit x\nbogus\n';
    expect(errorLines(text).map((line) => line.split(': error')[0])).toEqual([
      'test.conf:1:32',
      'test.conf:2:9',
      'test.conf:3:34',
      'test.conf:4:1',
    ]);
  });

  it('the number of errors is capped', () => {
    const errors = errorsOf(parse('bogus\n'.repeat(10_000)));
    expect(errors).toHaveLength(MAX_ERRORS);
    expect(errors.at(-1)!.message).toMatch(/stopping after 20 errors/);
    expect(errors.at(-1)!.location.line).toBe(MAX_ERRORS);
  });
});
