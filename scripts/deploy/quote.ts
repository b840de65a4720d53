// The one place where remote shell command lines are made. Every remote command is an argv
// array; each word is POSIX single-quoted so the remote shell (bash or dash, via sshd's
// `$SHELL -c`) passes it through verbatim: nothing inside single quotes is special except the
// closing quote itself, which is written as '\'' (close, escaped quote, reopen).

/** Words made only of these characters need no quoting; everything else is single-quoted. */
const PLAIN_WORD = /^[A-Za-z0-9_/.,:@%+-]+$/;

export class QuotingError extends Error {}

/** Quotes one word for a POSIX shell. NUL cannot be carried by any shell word, so it is refused. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new QuotingError('a remote command word contains a NUL byte');
  if (word !== '' && PLAIN_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Joins an argv array into one command line for the remote shell. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new QuotingError('empty remote command');
  return argv.map(shellQuote).join(' ');
}

/**
 * Runs a constant POSIX sh script remotely with its variable parts as positional parameters
 * ($1, $2, ...), so no value is ever pasted into script text.
 */
export function shellScriptCommand(script: string, name: string, args: readonly string[]): string {
  return shellCommand(['/bin/sh', '-c', script, name, ...args]);
}
