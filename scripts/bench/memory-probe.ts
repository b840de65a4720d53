// Where the daemon's memory goes, without a kernel that routes multicast: the real Daemon
// (config, core, codec, executor, status) runs in this process on a stand-in shim (every
// socket call succeeds, nothing reaches a kernel), one TV joins N groups through IGMPv3
// reports, each group gets its kernel upcall and route, and RssAnon plus V8's heap spaces
// are printed after a forced GC at each step. A diagnosis tool for development, bundled
// and run with the single binary's flags by `node scripts/node24.mjs scripts/bench/memory-probe.ts`
// (--steps=0,100,500,2000, --smaps, --heap: V8's heap spaces, --snapshots=DIR, --shim=PATH,
// --hold=MS: wait after each step, to read /proc/PID/smaps, --modules: the Node modules
// loaded). Not the bench: no kernel, no lab traffic.
//
// It loads what the daemon's process loads and nothing more, since every Node module loaded
// stays in the heap: the daemon's start-up modules (imported below though the probe starts
// the Daemon itself), no console (on a pipe, stdout would load Node's net and stream
// modules; the daemon's stdout is /dev/null), node:v8 only for --heap and --snapshots.
import { mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '../../addon/daemon/cli/commands.ts';
import '../../addon/daemon/runtime/run.ts';

// The rest of the single binary's script, which the daemon carries but never runs: main.ts
// loads `setup` and `diagnose` on demand, so their code is in the script (its source string
// and lazy function data in the heap) while their modules are never initialised. Imported
// the same way here, behind a condition that is never true.
if (process.argv.includes('--never')) {
  void import('../../addon/daemon/cli/setup-command.ts');
  void import('../../addon/daemon/cli/diagnose-command.ts');
}
import { QUIET_MS } from '../../addon/daemon/runtime/memory-release.ts';
import { encodeIgmpDatagrams } from '../../addon/daemon/kernel/executor.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { anonymousByKind, rssAnonKb } from './smaps-kinds.ts';
import { nocacheUpcall, PROBE_DOWNSTREAM_IFINDEX, startProbeDaemon } from './stand-in-shim.ts';
import type { ProcessShim } from './stand-in-shim.ts';

// The single binary has --expose-gc (build-config.ts); from source it is switched on here.
if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
}
const gc = ((globalThis as { gc?: () => void }).gc ??
  process.getBuiltinModule('node:vm').runInNewContext('gc')) as () => void;
const v8 = (): typeof import('node:v8') => process.getBuiltinModule('node:v8');
const print = (line: string): void => {
  writeSync(1, `${line}\n`);
};

const ip = (text: string): number => parseIpv4(text) as number;
const LAN = PROBE_DOWNSTREAM_IFINDEX;

function group(index: number): string {
  const n = index + 1;
  return `239.30.${(n >> 8) & 0xff}.${n & 0xff}`;
}

function join(index: number): Uint8Array {
  const [datagram] = encodeIgmpDatagrams({
    type: 'send-igmp',
    interface: 'lan',
    source: ip('192.168.1.20'),
    destination: ip('224.0.0.22'),
    message: {
      type: 'v3-report',
      records: [{ recordType: 'to-exclude', group: ip(group(index)), sources: [], auxData: new Uint8Array(0) }],
    },
  } as never);
  return datagram as Uint8Array;
}

function heapLine(): string {
  return v8()
    .getHeapSpaceStatistics()
    .filter((space) => space.space_used_size > 0 || space.space_size > 0)
    .map(
      (space) =>
        `${space.space_name.replace('_space', '')} ${(space.space_size / 1024).toFixed(0)}/${(space.space_used_size / 1024).toFixed(0)}`,
    )
    .join(', ')
    .concat(`; total ${(process.memoryUsage().heapTotal / 1024).toFixed(0)}`);
}

/** Past the paced upstream reports and their retransmissions, and the daemon's memory release once quiet after them. */
const STEADY_AFTER_MS = QUIET_MS + 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  // --shim=PATH: the real shim switches transparent huge pages off first and trims malloc, as in the daemon.
  const shimPath = process.argv.find((arg) => arg.startsWith('--shim='))?.slice(7);
  let real: ProcessShim | undefined;
  if (shimPath !== undefined) {
    const shim = { exports: {} as ProcessShim };
    process.dlopen(shim, shimPath);
    real = shim.exports;
    real.disableTransparentHugePages();
  }
  const steps = (process.argv.find((arg) => arg.startsWith('--steps='))?.slice(8) ?? '0,100,500,2000')
    .split(',')
    .map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-memory-'));
  // Limits raised above the largest row: this measures memory per group, not the limits.
  const text =
    'quickleave\nmaxgroups 65536\nmaxgroupsperhost 65536\nphyint up0 upstream ratelimit 0 threshold 1\n  altnet 0.0.0.0/0\nphyint lan0 downstream ratelimit 0 threshold 1\n';
  const { daemon, stand } = startProbeDaemon(dir, text, real);
  let joined = 0;
  print(`start: RssAnon ${rssAnonKb()} kB (before GC)`);
  for (const target of steps) {
    for (; joined < target; joined++) {
      stand.deliver(join(joined), LAN, ip('192.168.1.20'));
      stand.deliver(nocacheUpcall(ip('100.64.0.9'), ip(group(joined))), 0, 0);
      if (joined % 50 === 49) await sleep(1);
    }
    await sleep(STEADY_AFTER_MS);
    const steady = rssAnonKb();
    gc();
    await sleep(100);
    if (process.argv.includes('--smaps')) {
      const hugeKb = /AnonHugePages:\s+(\d+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1];
      print(`  AnonHugePages ${hugeKb} kB; RssAnon by mapping (kB): ${anonymousByKind()}`);
    }
    const snapshotDir = process.argv.find((arg) => arg.startsWith('--snapshots='))?.slice(12);
    if (snapshotDir !== undefined) v8().writeHeapSnapshot(path.join(snapshotDir, `groups-${target}.heapsnapshot`));
    print(
      `${String(target).padStart(5)} groups: RssAnon ${steady} kB steady, ${rssAnonKb()} kB after GC` +
        (process.argv.includes('--heap') ? `; heap ${heapLine()}` : ''),
    );
    const holdMs = Number(process.argv.find((arg) => arg.startsWith('--hold='))?.slice(7) ?? 0);
    if (holdMs > 0) {
      print(`pid ${process.pid} holding ${holdMs} ms`);
      await sleep(holdMs);
    }
  }
  if (process.argv.includes('--modules')) {
    const modules = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    print(
      `modules: ${modules
        .filter((name) => name.startsWith('NativeModule '))
        .map((name) => name.slice(13))
        .join(' ')}`,
    );
  }
  daemon.dumpStatus();
  print(`sent ${stand.sent()} datagrams; status ${readFileSync(path.join(dir, 'status.json')).length} bytes`);
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
