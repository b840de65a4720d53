// Entry point of the igmpproxy binary: the C igmpproxy command line plus --check,
// --list-interfaces, --version, `setup` and `diagnose`.
//
// Kept small on purpose: -h, --version and usage errors are answered by this module, the
// pure argument parser and cli/answer.ts alone, so they cost little more than Node's own
// start-up (loading the config parser and the runtime as well took ~15 ms more here).
// Commands that read a configuration load cli/commands.ts on demand.
import { dropRuntimeEnvironment } from './environment.ts';
import { answerAndExit } from './cli/answer.ts';
import { VERSION } from './version.ts';
import { DAEMON_CHILD_FLAG, parseArgs, USAGE } from './cli/args.ts';
import { errorMessage } from './error-message.ts';

// First thing: no NODE_*, LD_* or OpenSSL variables take effect in a root daemon.
const ignoredEnvironment = dropRuntimeEnvironment();

function main(argv: readonly string[]): void {
  if (argv[0] === '--self-test-assets') {
    settle(import('./cli/commands.ts').then((commands) => commands.selfTestAssets(argv[1] ?? 'igmp_shim.node')));
    return;
  }
  const daemonChild = argv[0] === DAEMON_CHILD_FLAG;
  const command = parseArgs(daemonChild ? argv.slice(1) : argv);
  switch (command.kind) {
    case 'help':
      return answerAndExit(1, USAGE, 0);
    case 'version':
      return answerAndExit(1, `igmpproxy ${VERSION}\n`, 0);
    case 'usage-error':
      return answerAndExit(2, `igmpproxy: ${command.message}\nTry 'igmpproxy -h' for more information.\n`, 1);
    case 'setup':
      return settle(import('./cli/setup-command.ts').then((setup) => setup.runSetup(command)));
    case 'diagnose':
      return settle(import('./cli/diagnose-command.ts').then((diagnose) => diagnose.runDiagnose(command)));
    default:
      settle(
        import('./cli/commands.ts').then((commands) =>
          commands.runCommand(command, { daemonChild, ignoredEnvironment }),
        ),
      );
  }
}

/** Sets the exit code from a command's outcome; an unexpected error is one line, exit 1. */
function settle(outcome: Promise<number>): void {
  outcome.then(
    (code) => {
      if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`igmpproxy: ${errorMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}

main(process.argv.slice(2));
