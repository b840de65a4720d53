// `npm run deploy -- [options] [user@]host[:port] ...`: installs the built Pakfire package on
// IPFire appliances over SSH. See scripts/deploy/main.ts and docs/ansible.md.
import { ReadStream } from 'node:tty';
import { EXIT_FAILED, oneLine } from './deploy/errors.ts';
import { main } from './deploy/main.ts';
import { promptHidden } from './deploy/prompt.ts';
import { REPOSITORY_ROOT as repoRoot } from '../build/repository.ts';

const stdin = process.stdin;
const onTerminal = stdin.isTTY === true && process.stderr.isTTY === true;

try {
  process.exitCode = await main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    terminal: onTerminal ? (raw) => process.stderr.write(raw) : null,
    promptHidden:
      onTerminal && stdin instanceof ReadStream ? (question) => promptHidden(stdin, process.stderr, question) : null,
    env: process.env,
    repoRoot,
    now: () => Date.now(),
  });
} catch (error) {
  process.stderr.write(`deploy: ${oneLine(error)}\n`);
  process.exitCode = EXIT_FAILED;
}
