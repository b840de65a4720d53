// Command line of `npm run bench` (scripts/bench.ts).
import { soakBudgetSeconds } from './soak-plan.ts';

export type ProxyId = 'c' | 'ours';
export type BenchSection = 'lab' | 'startup' | 'memory' | 'flood';
const SECTIONS: readonly BenchSection[] = ['lab', 'startup', 'memory', 'flood'];

export interface BenchOptions {
  readonly proxies: readonly ProxyId[];
  /** Joins measured for the first-packet latencies. */
  readonly joins: number;
  /** Channel changes measured for the zap latency. */
  readonly zaps: number;
  /** Groups one TV joins for the CPU/memory scenario. */
  readonly manyGroups: number;
  /** Seconds of the idle CPU window and of the hold at many groups. */
  readonly windowSeconds: number;
  readonly ispVersion: 2 | 3;
  /** Where bench-results.json and bench-results.md go. */
  readonly outDir: string;
  /** Pass -vv to the proxies (more log, more CPU: off by default for both). */
  readonly verboseProxy: boolean;
  /** Runs of each one-shot command in the start-up comparison; 0 skips it. */
  readonly startupRuns: number;
  /** Only one part: the IPTV lab scenarios, the start-up comparison, the memory table or the flood. */
  readonly only: BenchSection | undefined;
  /** Hard limit of the whole run. */
  readonly timeLimitSeconds: number;
  /** Minutes of the soak (`--soak`): then only the soak runs, by default of ours alone. */
  readonly soakMinutes: number | undefined;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]
  --proxy ours|c|both   proxies to measure (default both, side by side)
  --joins N             joins for first-packet latencies (default 20)
  --zaps N              channel changes for the zap latency (default 10)
  --groups N            groups for the CPU/memory scenario, one TV joins them all
                        (default 500, at most 512: maxgroupsperhost's default)
  --window S            seconds of the idle and the hold windows (default 10)
  --isp-version 2|3     IGMP version of the provider's querier (default 3)
  --out DIR             where bench-results.json/.md are written (default .)
  --verbose-proxy       run the proxies with -vv (default: -d only, warnings)
  --time-limit S        abort what is left after S seconds (default 600)
  --startup-runs N      runs of each one-shot command in the start-up comparison
                        (--version, -h, a minimal Node SEA, C igmpproxy -h; default 30, 0 skips)
  --only lab|startup|memory|flood
                        run only the IPTV lab scenarios, only the start-up comparison, only
                        the memory-per-group table (the daemon's code on a stand-in shim, native)
                        or only the flood: another TV's joins and zaps unloaded, then while a
                        LAN host floods valid IGMPv3 reports for 60 s (2,000/s emulated,
                        10,000/s native); p50/p90/max both ways, the ratio and a verdict
                        (within 2x), the proxy's RssAnon peak and CPU (namespace prefix fbflood)
  --soak MINUTES        only the soak: three TVs for MINUTES (1-1440), one holding a channel,
                        two zapping once a second; RssAnon and CPU of the proxy at start,
                        every 5 minutes and at the end, the held channel's longest gap, every
                        zap's latency, and verdicts. Ours only unless --proxy says otherwise
                        (--proxy both runs them one after the other: twice the time); the
                        time limit grows to fit (namespace prefix sksoak)
The lab needs root and network namespaces (it makes its own, prefix ipe8, and deletes them).`;

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${flag} needs an integer ${min}..${max}, got ${text ?? 'nothing'}`);
  }
  return value;
}

export function parseBenchArgs(argv: readonly string[], cwd: string): BenchOptions {
  let proxies: ProxyId[] = ['c', 'ours'];
  let joins = 20;
  let zaps = 10;
  let manyGroups = 500;
  let windowSeconds = 10;
  let ispVersion: 2 | 3 = 3;
  let outDir = cwd;
  let verboseProxy = false;
  let timeLimitSeconds = 600;
  let startupRuns = 30;
  let only: BenchSection | undefined;
  let help = false;
  let soakMinutes: number | undefined;
  let proxyGiven = false;
  let timeLimitGiven = false;
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index] as string;
    const value = argv[index + 1];
    switch (flag) {
      case '--proxy':
        if (value === 'both') proxies = ['c', 'ours'];
        else if (value === 'c' || value === 'ours') proxies = [value];
        else throw new Error(`--proxy must be ours, c or both, got ${value ?? 'nothing'}`);
        proxyGiven = true;
        index++;
        break;
      case '--joins':
        joins = integer(flag, value, 1, 1000);
        index++;
        break;
      case '--zaps':
        zaps = integer(flag, value, 1, 1000);
        index++;
        break;
      // One TV joins every group, and the same file goes to C igmpproxy, which knows no
      // maxgroupsperhost: the bench stays within that limit's default (512).
      case '--groups':
        manyGroups = integer(flag, value, 1, 512);
        index++;
        break;
      case '--window':
        windowSeconds = integer(flag, value, 1, 120);
        index++;
        break;
      case '--isp-version':
        ispVersion = integer(flag, value, 2, 3) as 2 | 3;
        index++;
        break;
      case '--time-limit':
        timeLimitSeconds = integer(flag, value, 30, 3600);
        timeLimitGiven = true;
        index++;
        break;
      case '--soak':
        soakMinutes = integer(flag, value, 1, 1440);
        index++;
        break;
      case '--startup-runs':
        startupRuns = integer(flag, value, 0, 1000);
        index++;
        break;
      case '--only':
        only = SECTIONS.find((section) => section === value);
        if (only === undefined)
          throw new Error(`--only must be lab, startup, memory or flood, got ${value ?? 'nothing'}`);
        index++;
        break;
      case '--out':
        if (value === undefined) throw new Error('--out needs a directory');
        outDir = value;
        index++;
        break;
      case '--verbose-proxy':
        verboseProxy = true;
        break;
      case '-h':
      case '--help':
        help = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (only === 'startup' && startupRuns === 0) throw new Error('--only startup needs --startup-runs above 0');
  if (soakMinutes !== undefined) {
    if (only !== undefined) throw new Error('--soak runs alone: leave out --only');
    // A soak is about our daemon; C beside it doubles the time, so only on request.
    if (!proxyGiven) proxies = ['ours'];
    if (!timeLimitGiven) timeLimitSeconds = soakBudgetSeconds(soakMinutes, proxies.length);
    else if (timeLimitSeconds < soakBudgetSeconds(soakMinutes, proxies.length)) {
      throw new Error(
        `--time-limit ${timeLimitSeconds} is too short for --soak ${soakMinutes} (${soakBudgetSeconds(soakMinutes, proxies.length)} s needed)`,
      );
    }
  }
  return {
    proxies,
    joins,
    zaps,
    manyGroups,
    windowSeconds,
    ispVersion,
    outDir,
    verboseProxy,
    timeLimitSeconds,
    startupRuns,
    only,
    help,
    soakMinutes,
  };
}
