// `igmpproxy setup`: the glue between IPFire's files and the pure setup modules. Plans,
// renders, proves the text loads with our own parser, then shows it with its differences
// to the current file or (--write) replaces the file. Every failure is one line, exit 1.
import { parseConfig } from '../config/parser.ts';
import { MAX_CONFIG_FILE_BYTES } from '../config/load.ts';
import { formatDiagnostic } from '../config/types.ts';
import type { Command } from './args.ts';
import { unifiedDiff } from '../setup/diff.ts';
import { planSetup } from '../setup/plan.ts';
import { readText, settingsBelow, underRoot } from '../setup/read-root.ts';
import { CONFIG_PATH, renderConfig } from '../setup/render.ts';
import { replaceConfig } from '../setup/write-config.ts';

type SetupCommand = Extract<Command, { kind: 'setup' }>;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`igmpproxy setup: ${line}\n`);

export function runSetup(command: SetupCommand, now: Date = new Date()): number {
  const plan = planSetup(settingsBelow(command.root), { provider: command.provider, lan: command.lan });
  if (!plan.ok) {
    err(plan.reason);
    return 1;
  }
  const text = renderConfig(plan);
  // The generated file must be one the daemon takes without a word; anything else is a bug here.
  const checked = parseConfig(text, CONFIG_PATH);
  const problems = checked.ok ? checked.warnings : [...checked.errors, ...checked.warnings];
  if (problems.length > 0) {
    err(`internal error: the generated configuration does not load cleanly: ${formatDiagnostic(problems[0]!)}`);
    return 1;
  }

  for (const note of plan.notes) err(`note: ${note}`);
  for (const warning of plan.warnings) err(`warning: ${warning}`);

  const target = underRoot(command.root, CONFIG_PATH);
  const current = readText(target, MAX_CONFIG_FILE_BYTES);
  const summary = `upstream ${plan.upstream.name}, downstream ${plan.downstream.map((i) => i.name).join(' ')}`;

  if (current.ok && current.text === text) {
    out(`${target} already is this configuration (${summary}); nothing to change`);
    return 0;
  }
  if (!command.write) {
    process.stdout.write(text);
    out('');
    if (current.ok) {
      out(`#### Changes to ${target} (igmpproxy setup ... --write applies them):`);
      process.stdout.write(unifiedDiff(current.text, text, target, `${target} (generated)`));
    } else if (current.code === 'ENOENT') {
      out(`#### ${target} does not exist yet; igmpproxy setup ... --write creates it.`);
    } else {
      out(`#### Cannot compare with the current file: ${current.message}`);
    }
    return 0;
  }

  const written = replaceConfig(target, text, now);
  if (!written.ok) {
    err(written.message);
    return 1;
  }
  out(`Wrote ${target}: ${summary}, ${plan.provider.title}.`);
  if (written.backup !== undefined) out(`The previous file is kept as ${written.backup}.`);
  return 0;
}
