// The configurations users copy from the IPFire how-to must load verbatim and mean what
// their author meant; so must the template the add-on installs.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../addon/daemon/config/load.ts';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { expectOk, isDeepFrozen, lines, summarise } from './helpers.ts';

const fixture = (name: string) => new URL(`../fixtures/config/${name}`, import.meta.url).pathname;
const read = (name: string) => readFileSync(fixture(name), 'utf8');
// The project's shared/ folder lies beside the checkout (as in CI), or at /work/shared.
const SEED_DOCUMENT =
  [
    new URL('../../../shared/seeds/ipfire-igmpproxy-howto.txt', import.meta.url).pathname,
    '/work/shared/seeds/ipfire-igmpproxy-howto.txt',
  ].find((candidate) => existsSync(candidate)) ?? '/work/shared/seeds/ipfire-igmpproxy-howto.txt';
const TEMPLATE = new URL('../../addon/etc/igmpproxy.conf', import.meta.url).pathname;

describe('seed configs from the IPFire how-to', () => {
  it.runIf(existsSync(SEED_DOCUMENT))('fixtures are verbatim copies of the how-to text', () => {
    const document = readFileSync(SEED_DOCUMENT, 'utf8');
    for (const name of ['seed-vlan8.conf', 'seed-bng.conf']) {
      expect(document.includes(read(name)), name).toBe(true);
    }
  });

  it('VLAN 8 seed: red0.8 upstream with the Telekom altnets, green0 downstream, the rest disabled', () => {
    const result = parseConfig(read('seed-vlan8.conf'), 'seed-vlan8.conf');
    const config = expectOk(result);
    expect(config.quickLeave).toBe(true);
    expect(config.defaultDown).toBe(false);
    expect(config.hashTableSize).toBeUndefined();
    expect(summarise(config)).toEqual([
      'red0.8 upstream rl=0 th=1 altnet=239.0.0.0/8 altnet=217.0.0.0/16 altnet=193.158.35.0/24',
      'green0 downstream rl=0 th=1 altnet=192.168.40.200/32',
      'lo disabled rl=0 th=1',
      'blue0 disabled rl=0 th=1',
      'red0 disabled rl=0 th=1',
      'tun0 disabled rl=0 th=1',
      'ppp0 disabled rl=0 th=1',
      'imq0 disabled rl=0 th=1',
      'mast0 disabled rl=0 th=1',
    ]);
    expect(config.interfaces[0]!.location).toEqual({ file: 'seed-vlan8.conf', line: 25, column: 1 });
    expect(config.interfaces[1]!.location).toEqual({ file: 'seed-vlan8.conf', line: 30, column: 7 });
    expect(lines(result.warnings)).toEqual([
      expect.stringMatching(/^seed-vlan8\.conf:26:14: warning: altnet 239\.0\.0\.0\/8 is a multicast range.*source/),
      expect.stringMatching(/^seed-vlan8\.conf:26:25: warning: this `;` \(and 3 more in this file\) is not part of/),
      expect.stringMatching(
        /^seed-vlan8\.conf:27:14: warning: `217\.0\.119\.194\/16` has host bits set; .*217\.0\.0\.0\/16/,
      ),
    ]);
    expect(isDeepFrozen(result)).toBe(true);
  });

  it('BNG seed: ppp0 upstream incl. 232.0.0.0/8, wlan0 without role is disabled', () => {
    const result = parseConfig(read('seed-bng.conf'), 'seed-bng.conf');
    const config = expectOk(result);
    expect(config.quickLeave).toBe(true);
    expect(summarise(config)).toEqual([
      'ppp0 upstream rl=0 th=1 altnet=239.0.0.0/8 altnet=232.0.0.0/8 altnet=217.0.0.0/16 altnet=193.158.35.0/24',
      'green0 downstream rl=0 th=1 altnet=192.168.0.100/32',
      'wlan0 disabled rl=0 th=1',
      'lo disabled rl=0 th=1',
      'blue0 disabled rl=0 th=1',
      'red0 disabled rl=0 th=1',
      'tun0 disabled rl=0 th=1',
    ]);
    expect(lines(result.warnings)).toEqual([
      expect.stringMatching(/^seed-bng\.conf:31:14: warning: altnet 239\.0\.0\.0\/8 is a multicast range/),
      expect.stringMatching(/^seed-bng\.conf:31:25: warning: this `;` \(and 4 more in this file\)/),
      expect.stringMatching(/^seed-bng\.conf:32:14: warning: altnet 232\.0\.0\.0\/8 is a multicast range/),
      expect.stringMatching(
        /^seed-bng\.conf:33:14: warning: `217\.0\.119\.194\/16` has host bits set; .*217\.0\.0\.0\/16/,
      ),
    ]);
  });

  it('the same seeds with CRLF line ends mean the same', () => {
    for (const name of ['seed-vlan8.conf', 'seed-bng.conf']) {
      const unix = expectOk(parseConfig(read(name), name));
      const dos = expectOk(parseConfig(read(name).replace(/\n/g, '\r\n'), name));
      expect(summarise(dos)).toEqual(summarise(unix));
    }
  });

  it('the seeds copied from a web page with no-break spaces mean the same, with one note', () => {
    const pasted = read('seed-vlan8.conf').replace(/ {2}/g, '\u00a0 ');
    const result = parseConfig(pasted, 'pasted.conf');
    expect(summarise(expectOk(result))).toEqual(summarise(expectOk(parseConfig(read('seed-vlan8.conf'), 'x'))));
    const notes = lines(result.warnings).filter((line) => line.includes('non-ASCII blank'));
    expect(notes).toHaveLength(1);
  });
});

describe('installed template addon/etc/igmpproxy.conf', () => {
  it('loads from disk without errors or warnings and means MagentaTV on VLAN 8', async () => {
    const result = loadConfigFile(TEMPLATE);
    const config = expectOk(result);
    expect(lines(result.warnings)).toEqual([]);
    expect(config.quickLeave).toBe(true);
    expect(summarise(config)).toEqual([
      'red0.8 upstream rl=0 th=1 altnet=217.0.0.0/16 altnet=193.158.35.0/24',
      'green0 downstream rl=0 th=1',
      'red0 disabled rl=0 th=1',
    ]);
  });

  it('its commented BNG alternative is valid too when swapped in', () => {
    // Comment out the red0.8 block's statements and uncomment the ppp0 block's, as a user would.
    let block: 'red' | 'ppp' | undefined;
    const text = readFileSync(TEMPLATE, 'utf8')
      .split('\n')
      .map((line) => {
        if (line.startsWith('phyint red0.8 ')) block = 'red';
        else if (line.startsWith('#phyint ppp0 ')) block = 'ppp';
        else if (!/^#? {4}altnet /.test(line)) block = undefined;
        if (block === 'red') return `#${line}`;
        if (block === 'ppp') return line.slice(1);
        return line;
      })
      .join('\n');
    const result = parseConfig(text, 'bng.conf');
    expect(summarise(expectOk(result))).toEqual([
      'ppp0 upstream rl=0 th=1 altnet=217.0.0.0/16 altnet=193.158.35.0/24',
      'green0 downstream rl=0 th=1',
      'red0 disabled rl=0 th=1',
    ]);
    expect(lines(result.warnings)).toEqual([]);
  });
});
