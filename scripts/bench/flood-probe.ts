// What a report flood costs the daemon per report, without a kernel that routes multicast:
// the real Daemon (codec, core, executor) runs in this process on stand-in-shim.ts's
// stand-in shim, and one hostile host's reports like the hostile-LAN test's flood
// (igmp-flood.c: CHANGE_TO_EXCLUDE {} of distinct groups, every 100th an ALLOW with 1,000
// sources) are handed to the raw socket's callback in batches of 256, as the shim does per
// readable event, with a turn of the event loop between batches. Prints µs per report, and
// how many reports of a well-behaved TV the daemon took. A diagnosis tool for development:
// `node scripts/node24.mjs scripts/bench/flood-probe.ts [--reports=N] [--cpu-prof]`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeBatch } from '../../addon/daemon/kernel/shim.ts';
import { hostReportDatagram, PROBE_DOWNSTREAM_IFINDEX, startProbeDaemon } from './stand-in-shim.ts';
import type { IgmpMessage } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';

const ip = (text: string): number => parseIpv4(text) as number;
const LAN = PROBE_DOWNSTREAM_IFINDEX;
const HOSTILE = ip('192.168.1.66');
const TV = ip('192.168.1.20');
const GROUP_BASE = ip('239.100.0.0');
const BATCH = 256;
const BIG_EVERY = 100;
const BIG_SOURCES = 1_000;

/** What igmp-flood.c sends: TTL 1, Router Alert, one record. */
function report(host: number, group: number, sources: number): Buffer {
  const list = Array.from({ length: sources }, (_, index) => ip('10.0.0.0') + index);
  const message: IgmpMessage = {
    type: 'v3-report',
    records: [{ recordType: sources > 0 ? 'allow' : 'to-exclude', group, sources: list }],
  };
  return hostReportDatagram(host, message);
}

async function main(): Promise<void> {
  const count = Number(process.argv.find((arg) => arg.startsWith('--reports='))?.slice(10) ?? 100_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-flood-'));
  const text =
    'quickleave\nphyint up0 upstream ratelimit 0 threshold 1\n  altnet 0.0.0.0/0\nphyint lan0 downstream ratelimit 0 threshold 1\n';
  const { daemon, stand } = startProbeDaemon(dir, text);
  // Built before the clock starts: the generator's work is not the daemon's.
  const tvJoin = report(TV, ip('239.70.0.1'), 0);
  // Batches as the shim hands them over: BATCH of the flood's reports and one of the TV's.
  const batches = Array.from({ length: Math.ceil(count / BATCH) }, (_, b) =>
    makeBatch([
      ...Array.from({ length: Math.min(BATCH, count - b * BATCH) }, (_, i) => {
        const index = b * BATCH + i;
        return {
          data: report(HOSTILE, GROUP_BASE + index, index % BIG_EVERY === BIG_EVERY - 1 ? BIG_SOURCES : 0),
          ifindex: LAN,
          source: HOSTILE,
        };
      }),
      { data: tvJoin, ifindex: LAN, source: TV },
    ]),
  );
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) {
    stand.deliverBatch(batch);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    `${count} reports in ${elapsed.toFixed(0)} ms: ${((1000 * elapsed) / count).toFixed(1)} µs each, ` +
      `CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, sent ${stand.sent()} datagrams`,
  );
  daemon.dumpStatus();
  const status = JSON.parse(readFileSync(path.join(dir, 'status.json'), 'utf8')) as {
    proxy: { downstreams: { groups: { hosts: string[] }[]; refused: Record<string, number> }[] };
  };
  const lan = status.proxy.downstreams[0];
  console.log(
    `lan0: ${lan?.groups.length} groups (the TV's: ${lan?.groups.filter((g) => g.hosts.includes('192.168.1.20')).length}), refused ${JSON.stringify(lan?.refused)}`,
  );
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
