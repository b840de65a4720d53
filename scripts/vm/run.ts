// Runs a command in the test VM from the shell; exits with the command's status.
//   node scripts/node24.mjs scripts/vm/run.ts [--timeout SECONDS] [--env NAME=VALUE]... -- COMMAND [ARG...]
import { describeVm, runInVm } from './vm.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

function parse(argv: readonly string[]): { command: string[]; timeoutMs: number; env: Record<string, string> } {
  const env: Record<string, string> = {};
  let timeoutMs = 60 * 60_000;
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--timeout' && value !== undefined && /^\d+$/.test(value)) {
      timeoutMs = Number(value) * 1000;
      i++;
    } else if (flag === '--env' && value !== undefined && value.includes('=')) {
      env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
      i++;
    } else {
      throw new Error(`unexpected argument "${flag}"`);
    }
  }
  const command = argv.slice(i + 1);
  if (command.length === 0) throw new Error('no command given after --');
  return { command, timeoutMs, env };
}

try {
  const { command, timeoutMs, env } = parse(process.argv.slice(2));
  const result = await runInVm({ argv: command, cwd: process.cwd(), env, timeoutMs });
  process.stderr.write(
    `vm: ${describeVm(result)}, ${result.seconds.toFixed(1)} s, ` +
      `${result.status === null ? result.failure : `exit status ${result.status}`}\n`,
  );
  process.exitCode = result.status ?? 1;
} catch (error) {
  process.stderr.write(
    `vm: ${errorMessage(error)}\n` +
      'usage: node scripts/node24.mjs scripts/vm/run.ts [--timeout SECONDS] [--env NAME=VALUE]... -- COMMAND [ARG...]\n',
  );
  process.exitCode = 2;
}
