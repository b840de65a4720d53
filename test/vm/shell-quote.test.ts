// The guest's command script, run by the same dash the guest uses.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkedVariableName, commandScript, shellQuote } from '../../scripts/vm/shell-quote.ts';

const awkward = ["it's", 'two words', '$(touch /tmp/x)', '`id`', 'a\nnewline', '"', '\\', '*', ''];

describe('the guest command script', () => {
  it("hands every word to the command unchanged (dash, no $'…' quoting)", () => {
    const script = commandScript(['printf', '[%s]', ...awkward], '/', { ODD: "x'y $z" });
    const run = spawnSync('dash', ['-c', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(awkward.map((w) => `[${w}]`).join(''));
    const env = spawnSync('dash', ['-c', commandScript(['sh', '-c', 'printf %s "$ODD"'], '/', { ODD: "x'y $z" })], {
      encoding: 'utf8',
    });
    expect(env.stdout).toBe("x'y $z");
  });

  it("exits with the command's status, and 125 when the directory is missing", () => {
    expect(spawnSync('dash', ['-c', commandScript(['sh', '-c', 'exit 7'], '/', {})]).status).toBe(7);
    expect(spawnSync('dash', ['-c', commandScript(['true'], '/nonexistent-dir', {})]).status).toBe(125);
  });

  it('refuses what it cannot express safely', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(() => checkedVariableName('A;B')).toThrow(/not a valid environment variable name/);
    expect(() => commandScript([], '/', {})).toThrow(/no command/);
  });
});
