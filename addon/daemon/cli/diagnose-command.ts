// `igmpproxy diagnose`: gathers the facts, judges them, prints the checklist or JSON. Exit
// status 1 when any check found a problem, so scripts can act on it. Reads only; the one
// thing it does to the system is ask the daemon for its status (SIGUSR1).
import type { Command } from './args.ts';
import { diagnose } from '../diagnose/checks.ts';
import { formatHuman, formatJson } from '../diagnose/format.ts';
import { gatherFacts } from '../diagnose/gather.ts';
import { DEFAULT_PIDFILE } from '../runtime/pidfile.ts';
import { DEFAULT_STATUS_FILE } from '../runtime/status.ts';

type DiagnoseCommand = Extract<Command, { kind: 'diagnose' }>;

export async function runDiagnose(command: DiagnoseCommand): Promise<number> {
  const facts = await gatherFacts({
    configPath: command.configPath,
    pidfile: command.pidfile ?? DEFAULT_PIDFILE,
    statusFile: command.statusFile ?? DEFAULT_STATUS_FILE,
  });
  const diagnosis = diagnose(facts);
  process.stdout.write(command.json ? formatJson(diagnosis) : formatHuman(diagnosis));
  return diagnosis.checks.some((check) => !check.ok) ? 1 : 0;
}
