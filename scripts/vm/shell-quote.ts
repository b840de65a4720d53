// Quoting for the POSIX sh (dash) that runs the guest's command script: every word in
// single quotes, a single quote as '\''. No $'…' forms (dash has none).

export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain a NUL byte');
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Variable names the script may export: a shell identifier, nothing else. */
export function checkedVariableName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a valid environment variable name`);
  return name;
}

/** The command script: exports, cd, then the command; its exit status is the script's. */
export function commandScript(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>): string {
  if (argv.length === 0) throw new Error('no command to run in the VM');
  const lines = ['# written by scripts/vm/vm.ts; run by guest-stage2.sh'];
  for (const [name, value] of Object.entries(env))
    lines.push(`export ${checkedVariableName(name)}=${shellQuote(value)}`);
  lines.push(`cd ${shellQuote(cwd)} || exit 125`);
  lines.push(argv.map(shellQuote).join(' '));
  return `${lines.join('\n')}\n`;
}
