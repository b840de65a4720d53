// Where the daemon's memory goes, without a kernel that routes multicast: the real Daemon
// (config, core, codec, executor, status) runs in this process on a stand-in shim (every
// socket call succeeds, nothing reaches a kernel), one TV joins N groups through IGMPv3
// reports, each group gets its kernel upcall and route, and RssAnon plus V8's heap spaces
// are printed after a forced GC at each step. A diagnosis tool for development, bundled
// and run with the single binary's flags by `node scripts/node24.mjs scripts/bench/memory-probe.ts`
// (--steps=0,100,500,2000, --smaps, --snapshots=DIR, --shim=PATH, --hold=MS: wait after each step, to read /proc/PID/smaps). Not the bench: no kernel, no lab traffic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { QUIET_MS } from '../../addon/daemon/runtime/memory-release.ts';
import { encodeIgmpDatagrams } from '../../addon/daemon/kernel/executor.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { anonymousByKind, rssAnonKb } from './smaps-kinds.ts';
import { PROBE_DOWNSTREAM_IFINDEX, startProbeDaemon } from './stand-in-shim.ts';
import type { ProcessShim } from './stand-in-shim.ts';

// The single binary has --expose-gc (build-config.ts); from source it is switched on here.
if (typeof (globalThis as { gc?: unknown }).gc !== 'function') setFlagsFromString('--expose-gc');
const gc = ((globalThis as { gc?: () => void }).gc ?? runInNewContext('gc')) as () => void;

const ip = (text: string): number => parseIpv4(text) as number;
const LAN = PROBE_DOWNSTREAM_IFINDEX;

function group(index: number): string {
  const n = index + 1;
  return `239.30.${(n >> 8) & 0xff}.${n & 0xff}`;
}

/** A NOCACHE upcall (struct igmpmsg) for (source, group) on vif. */
function upcall(vif: number, source: number, target: number): Uint8Array {
  const bytes = Buffer.alloc(28);
  bytes.writeUInt8(0x45, 0);
  bytes.writeUInt8(1, 8); // IGMPMSG_NOCACHE
  bytes.writeUInt8(0, 9); // im_mbz
  bytes.writeUInt8(vif, 10);
  bytes.writeUInt32BE(source >>> 0, 12);
  bytes.writeUInt32BE(target >>> 0, 16);
  return bytes;
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
  return getHeapSpaceStatistics()
    .filter((space) => space.space_used_size > 0 || space.space_size > 0)
    .map(
      (space) =>
        `${space.space_name.replace('_space', '')} ${(space.space_size / 1024).toFixed(0)}/${(space.space_used_size / 1024).toFixed(0)}`,
    )
    .join(', ');
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
  console.log(`start: RssAnon ${rssAnonKb()} kB (before GC)`);
  for (const target of steps) {
    for (; joined < target; joined++) {
      stand.deliver(join(joined), LAN, ip('192.168.1.20'));
      stand.deliver(upcall(0, ip('100.64.0.9'), ip(group(joined))), 0, 0);
      if (joined % 50 === 49) await sleep(1);
    }
    await sleep(STEADY_AFTER_MS);
    const steady = rssAnonKb();
    gc();
    await sleep(100);
    if (process.argv.includes('--smaps')) {
      const hugeKb = /AnonHugePages:\s+(\d+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1];
      console.log(`  AnonHugePages ${hugeKb} kB; RssAnon by mapping (kB): ${anonymousByKind()}`);
    }
    const snapshotDir = process.argv.find((arg) => arg.startsWith('--snapshots='))?.slice(12);
    if (snapshotDir !== undefined) writeHeapSnapshot(path.join(snapshotDir, `groups-${target}.heapsnapshot`));
    console.log(
      `${String(target).padStart(5)} groups: RssAnon ${steady} kB steady, ${rssAnonKb()} kB after GC; heap ${heapLine()}`,
    );
    const holdMs = Number(process.argv.find((arg) => arg.startsWith('--hold='))?.slice(7) ?? 0);
    if (holdMs > 0) {
      console.log(`pid ${process.pid} holding ${holdMs} ms`);
      await sleep(holdMs);
    }
  }
  daemon.dumpStatus();
  console.log(`sent ${stand.sent()} datagrams; status ${readFileSync(path.join(dir, 'status.json')).length} bytes`);
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
