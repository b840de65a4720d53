// What the deploy does on one appliance: install/update, uninstall, status. Each step is one
// remote command from remote-scripts.ts; every failure becomes a one-line DeployError.
import { randomBytes } from 'node:crypto';
import { LAYOUT } from '../../build/render.ts';
import path from 'node:path';
import { applianceProblem, parsePreflight, systemProblem, type ApplianceFacts } from './appliance-check.ts';
import { DeployError } from './errors.ts';
import type { ExecResult, RemoteSession } from './connection.ts';
import type { PackageSource } from './package-choice.ts';
import type { LocalPackage } from './package-info.ts';
import {
  installCommand,
  makeStagingCommand,
  preflightCommand,
  removeStagingCommand,
  sha256Command,
  statusCommand,
  STAGING_PARENT,
  STAGING_PREFIX,
  uninstallCommand,
} from './remote-scripts.ts';
import { formatStatus, parseStatus, summarizeStatus } from './status-report.ts';

export interface StepContext {
  readonly session: RemoteSession;
  readonly label: string;
  readonly commandTimeoutMs: number;
  /** Prints a progress/info line for this host. */
  readonly say: (line: string) => void;
  /** Upload progress for this host (bar or lines). */
  readonly progress: (file: string) => { update(done: number, total: number): void; finish(): void };
}

async function run(context: StepContext, command: string, what: string): Promise<ExecResult> {
  return context.session.exec(command, what, context.commandTimeoutMs);
}

async function checkAppliance(context: StepContext, name: string): Promise<ApplianceFacts> {
  const result = await run(context, preflightCommand(name), 'the appliance check');
  if (result.code !== 0)
    throw new DeployError(`the appliance check failed (exit ${result.code}): ${firstLine(result.stderr)}`);
  return parsePreflight(result.stdout);
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '') ?? 'no output'
  );
}

/** Remote file names: the package keeps its own name (it is only ever passed quoted). */
interface Staged {
  readonly dir: string;
  readonly packageName: string;
}

async function uploadVerified(
  context: StepContext,
  local: string,
  remote: string,
  sha256: string,
  what: string,
): Promise<void> {
  const progress = context.progress(what);
  try {
    await context.session.upload(local, `${remote}.part`, (done, total) => progress.update(done, total));
  } finally {
    progress.finish();
  }
  await context.session.rename(`${remote}.part`, remote);
  const result = await run(context, sha256Command(remote), `sha256sum of ${what}`);
  const remoteSum = /^([0-9a-f]{64})\b/.exec(result.stdout)?.[1];
  if (result.code !== 0 || remoteSum === undefined)
    throw new DeployError(`cannot compute the sha256 of ${what} on the appliance: ${firstLine(result.stderr)}`);
  if (remoteSum !== sha256)
    throw new DeployError(`${what} arrived damaged: sha256 ${remoteSum} on the appliance, ${sha256} here`);
}

async function stagePackage(context: StepContext, pkg: LocalPackage): Promise<Staged> {
  const dir = `${STAGING_PARENT}/${STAGING_PREFIX}${randomBytes(8).toString('hex')}`;
  const made = await run(context, makeStagingCommand(dir), 'creating the upload directory');
  if (made.code !== 0) throw new DeployError(`cannot create ${dir} on the appliance: ${firstLine(made.stderr)}`);
  const packageName = path.basename(pkg.packageFile);
  await uploadVerified(context, pkg.packageFile, `${dir}/${packageName}`, pkg.sha256, packageName);
  await uploadVerified(context, pkg.metaFile, `${dir}/meta-${pkg.meta.name}`, pkg.metaSha256, `meta-${pkg.meta.name}`);
  context.say(`uploaded and verified (sha256 ${pkg.sha256.slice(0, 16)}…)`);
  return { dir, packageName };
}

async function removeStaging(context: StepContext, staged: Staged | null): Promise<void> {
  if (staged === null || !context.session.alive) return;
  try {
    await run(context, removeStagingCommand(staged.dir), 'removing the upload directory');
  } catch {
    // Best effort: a later deploy removes leftovers older than a day.
  }
}

/** Interprets the DEPLOY-* lines of the install/uninstall scripts. */
function judgeScriptRun(result: ExecResult, context: StepContext): string {
  const lines = result.stdout.split('\n');
  const ok = lines.find((line) => line.startsWith('DEPLOY-OK '));
  if (result.code === 0 && ok) return ok.slice('DEPLOY-OK '.length);
  if (result.code === 0 && lines.includes('DEPLOY-NOT-INSTALLED')) return '';
  const refused = lines.find((line) => line.startsWith('DEPLOY-REFUSED '));
  if (refused) throw new DeployError(refused.slice('DEPLOY-REFUSED '.length));
  const failed = lines.findIndex((line) => line.startsWith('DEPLOY-SCRIPT-FAILED '));
  if (failed >= 0) {
    const [, rc, log] = /^DEPLOY-SCRIPT-FAILED (\S+) (.*)$/.exec(lines[failed] ?? '') ?? [];
    context.say(`--- last lines of ${log} ---`);
    for (const line of lines.slice(failed + 1)) if (line !== '') context.say(`  ${line}`);
    context.say('---');
    throw new DeployError(`the package script failed with exit ${rc}; see ${log} on the appliance`);
  }
  const record = lines.find((line) => line.startsWith('DEPLOY-RECORD-FAILED'));
  if (record)
    throw new DeployError(
      `the package script succeeded but pakfire's db could not be written (${record.split(' ')[1]})`,
    );
  throw new DeployError(
    `the remote step ended unexpectedly (exit ${result.code ?? 'by signal'}): ${firstLine(result.stderr || result.stdout)}`,
  );
}

/** The appliance's facts, refused unless it is an IPFire with pakfire, and the package for its architecture. */
async function checkedAppliance(
  context: StepContext,
  packages: PackageSource,
): Promise<{ facts: ApplianceFacts; pkg: LocalPackage }> {
  const facts = await checkAppliance(context, packages.name);
  const problem = systemProblem(facts);
  if (problem !== null) throw new DeployError(problem);
  return { facts, pkg: await packages.forAppliance(facts.arch) };
}

export async function installOrUpdate(context: StepContext, packages: PackageSource): Promise<string> {
  const { facts, pkg } = await checkedAppliance(context, packages);
  const problem = applianceProblem(facts, { action: 'install', packageArch: pkg.arch, packageSize: pkg.size });
  if (problem !== null) throw new DeployError(problem);
  const target = `${pkg.meta.version}-${pkg.meta.release}`;
  const action = facts.installed ? 'update' : 'install';
  const before = facts.installed ? `${facts.installed.version}-${facts.installed.release}` : null;
  context.say(
    before
      ? `${facts.release}: updating ${pkg.meta.name} ${before} to ${target}`
      : `${facts.release}: installing ${pkg.meta.name} ${target}`,
  );
  let staged: Staged | null = null;
  try {
    staged = await stagePackage(context, pkg);
    context.say(`running ${action}.sh`);
    const result = await run(
      context,
      installCommand(pkg.meta.name, staged.dir, staged.packageName, action),
      `${action}.sh`,
    );
    const log = judgeScriptRun(result, context);
    context.say(`${action}.sh succeeded (log: ${log})`);
  } finally {
    await removeStaging(context, staged);
  }
  return before ? `updated ${before} -> ${target}` : `installed ${target}`;
}

export async function uninstall(context: StepContext, packages: PackageSource): Promise<string> {
  const facts = await checkAppliance(context, packages.name);
  if (!facts.installed) return `${packages.name} is not installed; nothing to do`;
  const system = systemProblem(facts);
  if (system !== null) throw new DeployError(system);
  // uninstall.sh comes from the package: the one for the appliance's architecture, as for install.
  const pkg = await packages.forAppliance(facts.arch);
  // The architecture does not matter for uninstall.sh, but the appliance checks still do.
  const problem = applianceProblem(facts, { action: 'uninstall', packageArch: null, packageSize: pkg.size });
  if (problem !== null) throw new DeployError(problem);
  const installed = `${facts.installed.version}-${facts.installed.release}`;
  context.say(`uninstalling ${pkg.meta.name} ${installed} (configuration is kept)`);
  let staged: Staged | null = null;
  try {
    staged = await stagePackage(context, pkg);
    const result = await run(context, uninstallCommand(pkg.meta.name, staged.dir, staged.packageName), 'uninstall.sh');
    judgeScriptRun(result, context);
  } finally {
    await removeStaging(context, staged);
  }
  return `uninstalled ${installed}`;
}

export async function status(context: StepContext, name: string): Promise<string> {
  const result = await run(context, statusCommand({ ...LAYOUT, name }), 'the status query');
  if (result.code !== 0)
    throw new DeployError(`the status query failed (exit ${result.code}): ${firstLine(result.stderr)}`);
  const report = parseStatus(result.stdout, name);
  for (const line of formatStatus(report)) context.say(line);
  return summarizeStatus(report);
}
