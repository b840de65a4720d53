// Every Node module a process loads stays in its heap for good, and a few cost a lot: in the
// single binary's memory probe node:crypto and node:child_process together cost ~0.5 MB of
// RssAnon, node:v8 0.35-0.4 MB, node:fs/promises and the performance global ~0.2-0.4 MB each
// (they load Node's streams, readline, perf hooks). The daemon used them all for things it
// rarely or never does in a running daemon. This test bundles the daemon's start-up modules
// and a run of the Daemon (join, upcall, status, reload, a -d log line on a stderr pipe) as the single binary's script is
// bundled, runs it on the pinned Node, and names every module it loads beyond what an empty
// script loads: only `os` and `sea` may be among them. It also checks that no asynchronous
// fs call started libuv's pool of four threads (`libuv-worker`): the daemon reads its few
// small files synchronously.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleDaemon } from '../../build/bundle.ts';

const ALLOWED = ['os', 'sea'];
const RUN_TIMEOUT_MS = 30_000;

function runScript(script: string): string {
  const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  if (run.status !== 0) throw new Error(`${script} exited ${run.status ?? run.signal}: ${run.stderr}`);
  return run.stdout;
}

describe("the daemon's process loads no Node module and starts no thread it does not need", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loaded-modules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('beyond an empty script: only os and sea, and no libuv thread pool', async () => {
    const bundle = path.join(dir, 'daemon.cjs');
    await bundleDaemon({
      version: 'test',
      release: 0,
      outFile: bundle,
      entryPoint: 'test/helpers/daemon-modules-entry.ts',
    });
    const empty = path.join(dir, 'empty.cjs');
    writeFileSync(
      empty,
      "require('node:fs').writeSync(1, JSON.stringify(process.moduleLoadList.filter((n) => n.startsWith('NativeModule ')).map((n) => n.slice(13))));\n",
    );
    const baseline = new Set(JSON.parse(runScript(empty)) as string[]);
    const daemon = JSON.parse(runScript(bundle)) as { modules: string[]; threads: string[] };
    const extra = daemon.modules.filter((name) => !baseline.has(name));
    expect(extra.sort()).toEqual(ALLOWED);
    expect(daemon.threads).toContain('MainThread');
    expect(daemon.threads).not.toContain('libuv-worker');
  });
});
