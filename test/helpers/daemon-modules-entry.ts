// Bundled and run by test/runtime/loaded-modules.test.ts: the daemon's start-up modules (as
// the single binary's process loads them), then the Daemon itself on the bench's stand-in
// shim through a TV's join, its kernel upcall, a status dump and a reload; prints the Node
// modules loaded and the process's threads as JSON on stdout, through fs (a console on a pipe
// would load net and stream).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '../../addon/daemon/cli/commands.ts';
import '../../addon/daemon/runtime/run.ts';
import { Logger, StderrSink } from '../../addon/daemon/log/logger.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import {
  hostReportDatagram,
  nocacheUpcall,
  PROBE_DOWNSTREAM_IFINDEX,
  startProbeDaemon,
} from '../../scripts/bench/stand-in-shim.ts';

const ip = (text: string): number => parseIpv4(text) as number;

const dir = mkdtempSync(path.join(tmpdir(), 'daemon-modules-'));
const config =
  'phyint up0 upstream ratelimit 0 threshold 1\n  altnet 0.0.0.0/0\nphyint lan0 downstream ratelimit 0 threshold 1\n';
const { daemon, stand } = startProbeDaemon(dir, config);
const group = ip('239.1.2.3');
stand.deliver(
  hostReportDatagram(ip('192.168.1.20'), {
    type: 'v3-report',
    records: [{ recordType: 'to-exclude', group, sources: [] }],
  }),
  PROBE_DOWNSTREAM_IFINDEX,
  ip('192.168.1.20'),
);
stand.deliver(nocacheUpcall(ip('100.64.0.9'), group), 0, 0);
daemon.dumpStatus();
// -d's log on stderr, a pipe here as under a supervisor or the bench's lab.
new Logger([new StderrSink()], 0).warning('a line on stderr');
void daemon.reload().then(() => {
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
  const loaded = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
  const modules = loaded.filter((name) => name.startsWith('NativeModule ')).map((name) => name.slice(13));
  const threads = readdirSync('/proc/self/task').map((task) =>
    readFileSync(`/proc/self/task/${task}/comm`, 'latin1').trim(),
  );
  writeSync(1, JSON.stringify({ modules, threads }));
});
