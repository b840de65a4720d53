import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuotingError, shellCommand, shellQuote, shellScriptCommand } from '../../scripts/deploy/quote.ts';

const HOSTILE = [
  'plain',
  '',
  'with space',
  "single'quote",
  "''",
  'double"quote',
  '$(touch pwned-dollar)',
  '`touch pwned-backtick`',
  'a; touch pwned-semicolon',
  'line1\ntouch pwned-newline',
  '$HOME ${PATH} $1 $@',
  '*',
  '~',
  'NAME=value',
  '-n',
  'back\\slash',
  '&& touch pwned-and || touch pwned-or | cat > pwned-pipe',
  '<(touch pwned-procsub)',
  'tab\there',
  'ünïcode ✓',
];

const work = mkdtempSync(path.join(tmpdir(), 'ipd7-quote-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command line through a real shell the way sshd does: `$SHELL -c LINE`. */
function throughShell(shell: string, line: string): Buffer {
  const result = spawnSync(shell, ['-c', line], { cwd: work });
  expect(result.status, result.stderr.toString()).toBe(0);
  return result.stdout;
}

describe('shellQuote / shellCommand', () => {
  for (const shell of ['/bin/sh', '/bin/bash']) {
    it(`passes hostile words through ${shell} unchanged and executes nothing`, () => {
      const output = throughShell(shell, shellCommand(['printf', '%s\\0', ...HOSTILE]));
      const words = output.toString('utf8').split('\0').slice(0, -1);
      expect(words).toEqual(HOSTILE);
      expect(readdirSync(work)).toEqual([]);
    });
  }

  it('keeps plain words readable and quotes everything else', () => {
    expect(shellQuote('/opt/pakfire/tmp')).toBe('/opt/pakfire/tmp');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('NAME=x')).toBe("'NAME=x'");
  });

  it('refuses NUL bytes and empty commands', () => {
    expect(() => shellQuote('a\0b')).toThrow(QuotingError);
    expect(() => shellCommand([])).toThrow(QuotingError);
  });
});

describe('shellScriptCommand', () => {
  it('hands hostile values to a constant script as positional parameters', () => {
    const line = shellScriptCommand(
      'for word in "$@"; do printf "%s\\0" "$word"; done; printf "%s" "$0" >&2',
      'script-name',
      HOSTILE,
    );
    const result = spawnSync('/bin/bash', ['-c', line], { cwd: work });
    expect(result.status).toBe(0);
    expect(result.stdout.toString('utf8').split('\0').slice(0, -1)).toEqual(HOSTILE);
    expect(result.stderr.toString()).toBe('script-name');
    expect(readdirSync(work)).toEqual([]);
  });
});
