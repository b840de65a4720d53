// IPFire's settings files read the way IPFire reads them, checked against IPFire's own
// readhash test data (test/fixtures/ipfire-settings/ipfire-readhash-tests, copied from
// ipfire/ipfire-2.x tests/src/initscripts/system/functions/data).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../addon/daemon/setup/ipfire-settings.ts';

const DATA = path.resolve(import.meta.dirname, '../fixtures/ipfire-settings/ipfire-readhash-tests');
const read = (name: string) => readFileSync(path.join(DATA, name), 'utf8');

describe('parseSettings', () => {
  it("reads IPFire's test file 1 as IPFire's test expects: quoted values, comments skipped, nothing ignored", () => {
    const file = parseSettings(read('1'), '/var/ipfire/ethernet/settings');
    expect(file.values.get('RED_DHCP_HOSTNAME')).toBe('ipfire');
    expect(file.values.get('BLUE_MACADDR')).toBe('bc:30:7d:58:6b:e3');
    expect(file.values.get('BLUE_DEV')).toBe('blue0 net0');
    expect(file.values.get('RED_TYPE')).toBe('PPPOE');
    expect(file.values.get('RED_DHCP_FORCE_MTU')).toBe('');
    expect([...file.values.keys()].some((key) => key.includes('#') || key.includes('Comment'))).toBe(false);
    expect(file.ignored).toEqual([]);
  });

  it("ignores exactly the lines IPFire's readhash reports for test file 2, with the same reasons", () => {
    const file = parseSettings(read('2'), '/var/ipfire/ethernet/settings');
    const ipfire = read('2_output_stderr').trimEnd().split('\n');
    // IPFire: "Invalid value 'X' for key 'K'" / "Invalid line 'X'"; ours start lower case.
    expect(file.ignored.map((line) => line.reason)).toEqual(
      ipfire.map((line) => line[0]!.toLowerCase() + line.slice(1)),
    );
    expect(file.values.get('RED_DHCP_HOSTNAME')).toBe('ipfire');
    expect(file.values.get('BLUE_MACADDR')).toBe('bc:30:7d:58:6b:e3');
    expect(file.values.has('CONFIG_TYPE')).toBe(false);
    expect(file.values.has('RED_DEV')).toBe(false);
  });

  it.each([
    ['later lines win', 'A=1\nA=2\n', { A: '2' }, 0],
    ['blanks around a line are dropped', '  \tRED_TYPE=DHCP \t\n', { RED_TYPE: 'DHCP' }, 0],
    ['a CR end makes the value invalid, as in bash', 'IPTV=enable\r\n', {}, 1],
    ['a space needs quotes', "X=a b\nY='a b'\n", { Y: 'a b' }, 1],
    ['shell syntax is refused', 'X=$(reboot)\nY=`id`\nZ="q"\n', {}, 3],
    ['no final newline', 'TYPE=vdsl', { TYPE: 'vdsl' }, 0],
    ['an empty file', '', {}, 0],
  ])('%s', (_name, text, values, ignored) => {
    const file = parseSettings(text, 'f');
    expect(Object.fromEntries(file.values)).toEqual(values);
    expect(file.ignored).toHaveLength(ignored);
  });

  it('keeps control characters out of the reasons it reports', () => {
    const file = parseSettings('X=\x1b[31mred\n', 'f');
    expect(file.ignored[0]!.reason).toBe("invalid value '?[31mred' for key 'X'");
  });
});
