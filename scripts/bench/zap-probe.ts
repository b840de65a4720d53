// Where a zapping daemon's memory goes over time, without a kernel that routes multicast
// (the soak's question, accelerated): the real Daemon runs in this process on
// stand-in-shim.ts's stand-in shim; tv0 holds one channel, tv1 and tv2 zap (leave A +
// join B, each report twice as a kernel sends it, B's upcall) through their own ring of 8
// channels, alternately, --rate zaps a second in all (the soak: 2). Every --sample seconds it
// prints RssAnon, V8's heap spaces (committed/used kB) and RssAnon by kind of mapping. A
// diagnosis tool for development:
// `node scripts/node24.mjs [V8 flags] scripts/bench/zap-probe.ts [--rate=40] [--seconds=300] [--sample=10] [--shim=PATH]
// [--allocations [--survivors]]` (--allocations: V8's sampling heap profiler, garbage included, prints
// the functions that allocated the most while zapping; --survivors: only what outlived scavenges).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { IgmpMessage } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { anonymousByKind, rssAnonKb } from './smaps-kinds.ts';
import { hostReportDatagram, nocacheUpcall, PROBE_DOWNSTREAM_IFINDEX, startProbeDaemon } from './stand-in-shim.ts';
import type { ProcessShim } from './stand-in-shim.ts';

const ip = (text: string): number => parseIpv4(text) as number;
const LAN = PROBE_DOWNSTREAM_IFINDEX;
const PROVIDER_SOURCE = ip('100.64.0.9');
const RING = 8;

const option = (name: string, fallback: number): number =>
  Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);

/** An IGMPv3 report of one record as a Linux host sends it: TTL 1, Router Alert. */
function report(host: number, group: number, recordType: 'to-exclude' | 'to-include'): Buffer {
  const message: IgmpMessage = { type: 'v3-report', records: [{ recordType, group, sources: [] }] };
  return hostReportDatagram(host, message);
}

function heapLine(): string {
  const stats = getHeapStatistics();
  const spaces = getHeapSpaceStatistics()
    .filter((space) => space.space_size > 0)
    .map(
      (space) =>
        `${space.space_name.replace('_space', '')} ${Math.round(space.space_size / 1024)}/${Math.round(space.space_used_size / 1024)}`,
    )
    .join(', ');
  return `heap ${spaces}; malloced ${Math.round(stats.malloced_memory / 1024)} (peak ${Math.round(stats.peak_malloced_memory / 1024)}), external ${Math.round(stats.external_memory / 1024)}`;
}

async function startAllocationSampling(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    // --survivors: only what outlived the scavenges (promoted to the old generation).
    includeObjectsCollectedByMinorGC: !process.argv.includes('--survivors'),
  });
  return session;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Bytes allocated per zap by function (self), the 25 largest. */
async function printAllocations(session: Session, zaps: number): Promise<void> {
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  const bySite = new Map<string, number>();
  // A built-in's allocation (no script) counts for the script function that called it.
  const walk = (node: ProfileNode, caller: string): void => {
    const frame = node.callFrame;
    const site =
      frame.url === ''
        ? `${caller} > ${frame.functionName}`
        : `${frame.functionName || '(anonymous)'} ${path.basename(frame.url)}:${frame.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, frame.url === '' ? caller : site);
  };
  walk(profile.head, '(root)');
  const total = [...bySite.values()].reduce((sum, bytes) => sum + bytes, 0);
  console.log(
    `allocated ${Math.round(total / 1024)} kB in ${zaps} zaps (${Math.round(total / Math.max(1, zaps))} bytes a zap):`,
  );
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${String(Math.round(bytes / Math.max(1, zaps))).padStart(7)} bytes a zap  ${site}`);
  }
  session.disconnect();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const rate = option('rate', 40);
  const seconds = option('seconds', 300);
  const sampleMs = option('sample', 10) * 1000;
  const shimPath = process.argv.find((arg) => arg.startsWith('--shim='))?.slice(7);
  let real: ProcessShim | undefined;
  if (shimPath !== undefined) {
    const shim = { exports: {} as ProcessShim };
    process.dlopen(shim, shimPath);
    real = shim.exports;
    real.disableTransparentHugePages();
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-zap-'));
  const text =
    'quickleave\nphyint up0 upstream ratelimit 0 threshold 1\n  altnet 0.0.0.0/0\nphyint lan0 downstream ratelimit 0 threshold 1\n';
  const { daemon, stand } = startProbeDaemon(dir, text, real);
  const held = ip('239.30.0.1');
  const tvs = [ip('192.168.1.21'), ip('192.168.1.22')].map((host, index) => ({
    host,
    ring: Array.from({ length: RING }, (_, k) => ip(`239.30.${index + 1}.${k + 1}`)),
    at: 0,
  }));
  stand.deliver(report(ip('192.168.1.20'), held, 'to-exclude'), LAN, ip('192.168.1.20'));
  stand.deliver(nocacheUpcall(PROVIDER_SOURCE, held), 0, 0);
  const profiler = process.argv.includes('--allocations') ? await startAllocationSampling() : undefined;
  const start = performance.now();
  let zaps = 0;
  let nextSample = 0;
  /** The daemon's time per zap (ms) since the last sample. */
  let zapMs: number[] = [];
  const periodMs = 1000 / rate;
  while (performance.now() - start < seconds * 1000) {
    const elapsed = performance.now() - start;
    if (elapsed >= nextSample) {
      zapMs.sort((a, b) => a - b);
      const timing =
        zapMs.length === 0
          ? ''
          : ` zap p50 ${zapMs[Math.floor(zapMs.length / 2)]?.toFixed(3)} ms, p99 ${zapMs[Math.floor(zapMs.length * 0.99)]?.toFixed(3)} ms, max ${zapMs.at(-1)?.toFixed(1)} ms;`;
      zapMs = [];
      console.log(
        `${(elapsed / 1000).toFixed(0).padStart(5)} s ${String(zaps).padStart(7)} zaps:${timing} RssAnon ${rssAnonKb()} kB; ${heapLine()}; anon ${anonymousByKind()}`,
      );
      nextSample += sampleMs;
    }
    const tv = tvs[zaps % 2]!;
    const from = tv.ring[tv.at % RING]!;
    const to = tv.ring[(tv.at + 1) % RING]!;
    tv.at++;
    const leave = report(tv.host, from, 'to-include');
    const join = report(tv.host, to, 'to-exclude');
    const began = performance.now();
    for (let copy = 0; copy < 2; copy++) {
      stand.deliver(leave, LAN, tv.host);
      stand.deliver(join, LAN, tv.host);
      if (copy === 0) stand.deliver(nocacheUpcall(PROVIDER_SOURCE, to), 0, 0);
    }
    zapMs.push(performance.now() - began);
    zaps++;
    await sleep(Math.max(0, start + zaps * periodMs - performance.now()));
  }
  if (profiler !== undefined) await printAllocations(profiler, zaps);
  console.log(`end: ${zaps} zaps, RssAnon ${rssAnonKb()} kB; ${heapLine()}; anon ${anonymousByKind()}`);
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
