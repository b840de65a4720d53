// Property tests with a seeded PRNG (failures name their case and reproduce): whatever the
// input, parseConfig returns quickly, never throws, and either gives a frozen config that
// round-trips through describeConfig, or at least one error at a real position in the text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_ERRORS, MAX_WARNINGS } from '../../addon/daemon/config/diagnostics.ts';
import { MAX_CONFIG_LENGTH, parseConfig } from '../../addon/daemon/config/parser.ts';
import type { ConfigDiagnostic, ConfigResult } from '../../addon/daemon/config/types.ts';
import { expectOk, expectRoundTrip, isDeepFrozen, summarise } from './helpers.ts';
import { mulberry32 } from '../../scripts/lab/prng.ts';

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const integer = (random: Random, below: number) => Math.floor(random() * below);

const SEEDS = ['seed-vlan8.conf', 'seed-bng.conf'].map((name) =>
  readFileSync(new URL(`../fixtures/config/${name}`, import.meta.url), 'utf8'),
);

/** Every position a diagnostic names must exist in the text (end of a line included). */
function expectValidPosition(text: string, diagnostic: ConfigDiagnostic, label: string): void {
  const { line, column } = diagnostic.location;
  const textLines = text.split('\n');
  expect(Number.isInteger(line) && line >= 1 && line <= textLines.length, `${label}: line ${line}`).toBe(true);
  const length = textLines[line - 1]!.length;
  expect(Number.isInteger(column) && column >= 1 && column <= length + 1, `${label}: ${line}:${column}`).toBe(true);
}

let slowest = 0;
/** Far above a healthy parse (milliseconds), far below a quadratic one at the size limit (minutes). */
const HANG_BOUND_MS = 5_000;

function check(text: string, label: string): ConfigResult {
  const started = performance.now();
  let result: ConfigResult;
  try {
    result = parseConfig(text, 'fuzz.conf');
  } catch (error) {
    expect.fail(`${label}: parseConfig threw ${String(error)}`);
  }
  slowest = Math.max(slowest, performance.now() - started);
  expect(isDeepFrozen(result), `${label}: frozen`).toBe(true);
  const all = [...(result.ok ? [] : result.errors), ...result.warnings];
  for (const diagnostic of all) {
    expect(diagnostic.message, label).not.toMatch(/internal error/);
    expect(diagnostic.location.file).toBe('fuzz.conf');
    expectValidPosition(text, diagnostic, label);
  }
  expect(result.warnings.length).toBeLessThanOrEqual(MAX_WARNINGS + 1);
  if (result.ok) {
    expectRoundTrip(result.config);
  } else {
    expect(result.errors.length, label).toBeGreaterThanOrEqual(1);
    expect(result.errors.length, label).toBeLessThanOrEqual(MAX_ERRORS);
  }
  return result;
}

const VOCABULARY = [
  'quickleave',
  'hashtablesize',
  'defaultdown',
  'rescanvif',
  'chroot',
  'user',
  'phyint',
  'upstream',
  'downstream',
  'disabled',
  'ratelimit',
  'threshold',
  'altnet',
  'whitelist',
  'blacklist',
  'phyint',
  'phyint',
  'upstream',
  'altnet',
  'eth0',
  'eth1',
  'red0.8',
  'green0',
  'ppp0',
  'lo',
  'x',
  'eth0:1',
  'averyveryverylongname',
  '0',
  '1',
  '255',
  '256',
  '-1',
  '536870912',
  '99999999999999999999',
  '239.0.0.0/8',
  '217.0.119.194/16',
  '10.0.0.1',
  '1.2.3',
  '300.1.1.1',
  '1.2.3.4/33',
  '0.0.0.0/0',
  '224.0.0.0/4',
  '/var/empty',
  'nobody',
  'quickleav',
  'Phyint',
  ';',
  '239.0.0.0/8;',
  '#',
  '# comment',
  '\0',
  'x'.repeat(300),
];
const SEPARATORS = [' ', ' ', ' ', '\n', '\n', '\t', '\r\n', '  ', '\u00a0', ';'];

describe('fuzzing parseConfig', () => {
  it('random byte strings', () => {
    const random = mulberry32(0x1c01);
    const decoder = new TextDecoder();
    for (let n = 0; n < 1000; n++) {
      const bytes = Uint8Array.from({ length: integer(random, 300) }, () => integer(random, 256));
      const text = n % 2 === 0 ? decoder.decode(bytes) : String.fromCharCode(...bytes);
      check(text, `bytes #${n}`);
    }
  });

  it('token soups from the keyword vocabulary', () => {
    const random = mulberry32(0x1c02);
    for (let n = 0; n < 1500; n++) {
      const parts: string[] = [];
      const count = integer(random, 40);
      for (let i = 0; i < count; i++) parts.push(pick(random, VOCABULARY), pick(random, SEPARATORS));
      check(parts.join(''), `soup #${n}`);
    }
  });

  it('phrase soups: well-formed statements in random order', () => {
    const random = mulberry32(0x1c05);
    const phrases = [
      'quickleave',
      'defaultdown',
      'rescanvif',
      'hashtablesize 32',
      'chroot /var/empty',
      'user nobody',
      'phyint eth0',
      'phyint eth1',
      'phyint red0.8',
      'phyint ppp0 upstream',
      'phyint green0 downstream',
      'upstream',
      'downstream',
      'disabled',
      'ratelimit 0',
      'threshold 1',
      'threshold 9',
      'altnet 10.0.0.0/8',
      'altnet 217.0.119.194/16;',
      'whitelist 239.0.0.0/8',
      'blacklist 239.1.1.1',
    ];
    let valid = 0;
    for (let n = 0; n < 1000; n++) {
      const parts = ['phyint wan0 upstream'];
      for (let i = integer(random, 25); i > 0; i--) parts.push(pick(random, SEPARATORS), pick(random, phrases));
      if (check(parts.join(' '), `phrases #${n}`).ok) valid++;
    }
    // Both outcomes must be exercised, or the generator has gone stale.
    expect(valid).toBeGreaterThan(100);
    expect(valid).toBeLessThan(1000);
  });

  it('mutations of the seed configs', () => {
    const random = mulberry32(0x1c03);
    const insertable = ['#', ';', ' ', '\n', '\0', '/', '.', '9', 'a', '\u00a0', 'phyint ', ' upstream', ' altnet '];
    let valid = 0;
    for (let n = 0; n < 1500; n++) {
      let text = pick(random, SEEDS);
      const mutations = 1 + integer(random, 5);
      for (let m = 0; m < mutations; m++) {
        const at = integer(random, text.length + 1);
        const span = 1 + integer(random, 12);
        switch (integer(random, 4)) {
          case 0: // delete
            text = text.slice(0, at) + text.slice(at + span);
            break;
          case 1: // insert
            text = text.slice(0, at) + pick(random, insertable) + text.slice(at);
            break;
          case 2: // duplicate
            text = text.slice(0, at) + text.slice(at, at + span) + text.slice(at);
            break;
          default: // flip a character
            text =
              text.slice(0, at) +
              String.fromCharCode(text.charCodeAt(at) ^ (1 << integer(random, 7))) +
              text.slice(at + 1);
        }
      }
      if (check(text, `mutation #${n}`).ok) valid++;
    }
    expect(valid).toBeGreaterThan(100);
  });

  it('generated valid configs mean exactly what was generated', () => {
    const random = mulberry32(0x1c04);
    for (let n = 0; n < 300; n++) {
      const roles = ['upstream', 'downstream', 'disabled'] as const;
      const expected: string[] = [];
      const statements: string[] = [];
      if (random() < 0.5) statements.push('quickleave');
      const blocks = 1 + integer(random, 6);
      for (let b = 0; b < blocks; b++) {
        const role = b === 0 ? 'upstream' : pick(random, roles);
        const rateLimit = role === 'disabled' || random() < 0.8 ? 0 : integer(random, 1000);
        const threshold = role === 'downstream' ? 1 + integer(random, 255) : 1;
        const words = [`phyint if${b}`, role];
        if (random() < 0.5) words.push(`ratelimit ${rateLimit}`);
        else if (rateLimit !== 0) words.push(`ratelimit ${rateLimit}`);
        if (threshold !== 1 || random() < 0.5) words.push(`threshold ${threshold}`);
        const summary = [`if${b}`, role, `rl=${rateLimit}`, `th=${threshold}`];
        const filters: string[] = [];
        if (role !== 'disabled') {
          for (let a = integer(random, 3); a > 0; a--) {
            const network = `10.${integer(random, 256)}.0.0/16`;
            words.push(`altnet ${network}`);
            summary.push(`altnet=${network}`);
          }
          for (let f = integer(random, 3); f > 0; f--) {
            const action = pick(random, ['whitelist', 'blacklist'] as const);
            const group = `239.${integer(random, 256)}.${integer(random, 256)}.0/24`;
            words.push(`${action} ${group}`);
            filters.push(`${action === 'whitelist' ? 'allow' : 'deny'}=${group}`);
          }
        }
        // summarise() lists altnets before filters.
        expected.push([...summary, ...filters].join(' '));
        const separator = () => pick(random, [' ', '\n    ', '\t', ' ;\n']);
        const spaced = words.map((word) => word.replace(' ', pick(random, [' ', '  ', '\t'])));
        statements.push(spaced.reduce((joined, word) => joined + separator() + word));
      }
      const text = statements.join(pick(random, ['\n', '\n\n# comment\n', ' ']));
      const result = check(text, `generated #${n}`);
      expect(summarise(expectOk(result)), `generated #${n}:\n${text}`).toEqual(expected);
    }
  });

  // A hang guard, not a speed figure (speed is the bench's business, and a busy machine
  // stretches wall time): a parser gone quadratic or backtracking on such inputs takes
  // minutes, far past this bound; a healthy one takes milliseconds.
  it('no parse above hung', () => {
    expect(slowest).toBeLessThan(HANG_BOUND_MS);
  });

  describe('inputs at the size limit do not hang the parser', () => {
    /** `prefix` followed by as many `unit`s as fit in the limit. */
    const fill = (unit: string, prefix = '') =>
      prefix + unit.repeat(Math.floor((MAX_CONFIG_LENGTH - prefix.length) / unit.length));
    const cases: Array<[string, string]> = [
      ['unknown words', fill('bogus ')],
      ['duplicate blocks', fill('phyint wan0 upstream\n', 'phyint lan0 downstream\n')],
      ['one block with many altnets', fill('altnet 10.1.2.3/8 ', 'phyint lan0 downstream\nphyint wan0 upstream\n')],
      [
        'many distinct blocks',
        Array.from({ length: 10_000 }, (_, i) => `phyint i${i} ${i === 0 ? 'upstream' : 'downstream'}`).join('\n'),
      ],
      ['lone semicolons', fill('; ', 'phyint wan0 upstream\n')],
      ['one huge word', fill(';')],
      ['comments', fill('# comment\n')],
      ['blank lines', fill('\n')],
      ['no-break spaces', fill('\u00a0', 'phyint wan0 upstream')],
      ['NUL bytes', fill('\0')],
      ['almost keywords', fill('quickleav ')],
    ];
    for (const [name, text] of cases) {
      it(name, () => {
        expect(text.length).toBeLessThanOrEqual(MAX_CONFIG_LENGTH);
        const started = performance.now();
        const result = parseConfig(text, 'big.conf');
        expect(performance.now() - started).toBeLessThan(HANG_BOUND_MS);
        expect(isDeepFrozen(result)).toBe(true);
      });
    }
  });
});
