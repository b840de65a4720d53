// The deploy tool's remote status query (scripts/deploy/remote-scripts.ts STATUS), run here
// by /bin/sh as the appliance would run it: it signals the pidfile's process only when that
// process is ours by name, as the initscript checks (initscripts/_daemon.mustache).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statusCommand } from '../../scripts/deploy/remote-scripts.ts';
import { parseStatus, splitSections } from '../../scripts/deploy/status-report.ts';

const scratch: string[] = [];
const sleepers: number[] = [];

afterEach(() => {
  for (const pid of sleepers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A `sleep` process (/proc/PID/comm "sleep"); SIGUSR1 would end it (default action). */
function startSleeper(): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('cannot start sleep');
  sleepers.push(child.pid);
  return child.pid;
}

function alive(pid: number): boolean {
  const state = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return state !== '' && !state.startsWith('Z');
}

function runStatus(pidfileContent: string, processName: string, statusContent?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'deploy-status-'));
  scratch.push(dir);
  const pidfile = path.join(dir, 'igmpproxy.pid');
  writeFileSync(pidfile, pidfileContent);
  if (statusContent !== undefined) writeFileSync(path.join(dir, 'igmpproxy.status'), statusContent);
  const command = statusCommand({
    name: 'igmpproxy',
    initscript: path.join(dir, 'no-initscript'),
    pidfile,
    statusFile: path.join(dir, 'igmpproxy.status'),
    processName,
    iptvInput: 'NO_SUCH_CHAIN_IN',
    iptvForward: 'NO_SUCH_CHAIN_FWD',
  });
  const result = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', timeout: 20_000 });
  expect(result.error).toBeUndefined();
  return result.stdout;
}

describe('deploy --status on the appliance', () => {
  it('leaves a process alone whose pid the pidfile names but which is not ours', () => {
    const pid = startSleeper();
    const out = runStatus(`${pid}\n`, 'igmpproxy');
    expect(out).toContain(`@@deadpid ${pid}`);
    expect(out).not.toMatch(/@@(fresh|stale)/);
    expect(alive(pid)).toBe(true);
  });

  it("signals the process when its name is the layout's process name", () => {
    const pid = startSleeper();
    // Named as ours here: the query sends SIGUSR1, which ends a sleep; no status file
    // appears, so the query reports the status as stale after its bounded wait.
    const out = runStatus(`${pid}\n`, 'sleep');
    expect(out).toContain('@@stale');
    expect(out).not.toContain('@@deadpid');
    for (let tries = 0; tries < 50 && alive(pid); tries++) spawnSync('sleep', ['0.1']);
    expect(alive(pid)).toBe(false);
  });

  it('reads the paths it is given: missing initscript, no pid, absent status file', () => {
    const out = runStatus('', 'igmpproxy');
    expect(out).toMatch(/@@missing .*no-initscript/);
    expect(out).toMatch(/@@nopid .*igmpproxy\.pid/);
    expect(out).toMatch(/@@absent .*igmpproxy\.status/);
  });

  it('reads a status file without a final newline: the next section still starts on its own line', () => {
    const document = {
      schema: 1,
      proxy: { downstreams: [{ name: 'green0', groups: [{ group: '239.1.1.1', hosts: ['192.168.1.10'] }] }] },
      kernelRoutes: [],
    };
    const text = JSON.stringify(document, null, 2);
    expect(text.endsWith('\n')).toBe(false);
    // A pid named as ours (a sleep, which SIGUSR1 ends): the status file is read, not skipped.
    const out = runStatus(`${startSleeper()}\n`, 'sleep', text);
    const sections = splitSections(out);
    expect(sections.get('statusfile')).toEqual(text.split('\n'));
    expect([...sections.keys()]).toEqual(['service', 'meta', 'daemon', 'statusfile', 'iptvinput', 'iptvforward']);
    expect(parseStatus(out, 'igmpproxy').daemon).toEqual({
      kind: 'ok',
      fresh: false,
      groups: ['239.1.1.1 on green0: 1 host(s) 192.168.1.10'],
      routes: [],
    });
  });
});
