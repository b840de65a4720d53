// `igmpproxy diagnose` end to end in the IPTV lab (scripts/lab/iptv-lab.ts): our daemon from
// source forwards a stream from an altnet source (203.0.113.10) to a TV, the add-on's real
// firewall helper has set its rules, and diagnose (run in the router's namespace, as root
// on the box) reports no problem. Then one fault at a time, each undone before the next:
// firewall rules removed, strict rp_filter with the sources routed elsewhere, the provider's
// querier silent, the source outside every altnet, the TV's IGMP refused (IP TTL 64, a join
// beyond maxgroupsperhost: counts that stay until the daemon stops, so that fault comes last
// while it runs), the daemon stopped, multicast off on the upstream -- each reported with its
// check id and fix, exit status 1.
//
// STAND-IN: IPFire's firewall is reduced to the empty chains it hangs the add-on's rules
// from (IPTVINPUT, IPTVFORWARD, CUSTOMOUTPUT, jumped to from INPUT, FORWARD, OUTPUT, as
// IPFire's firewall initscript makes them; the whole firewall runs in
// test/e2e/ipfire-router.test.ts). Legacy iptables, as on IPFire.
// Needs multicast routing (the test VM).
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LAYOUT, readPackageInfo, renderScripts } from '../../build/render.ts';
import { checkNetnsSupport, execBounded } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { buildIgmp } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { IptvLab, LAB_ADDRESSES, labNode, repositoryRoot, tvAddress } from '../../scripts/lab/iptv-lab.ts';
import type { ProxyHandle } from '../../scripts/lab/iptv-lab.ts';

const PREFIX = 'dg4';
const GROUP = '239.77.0.1';
/** The lab provider's query interval (and QQIC): short, so "no query for two intervals" comes quickly. */
const QUERY_INTERVAL_MS = 2_000;
const MAIN = path.join(repositoryRoot, 'addon', 'daemon', 'main.ts');
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`diagnose end-to-end tests skipped: ${support.reason}`);

interface Check {
  id: string;
  interface?: string;
  ok: boolean;
  message: string;
  fix: string | null;
}
interface Row {
  group: string;
  source: string | null;
  receivers: number;
  packets: number | null;
  bitsPerSecond: number | null;
  stalled: boolean;
}
interface Report {
  schema: number;
  checks: Check[];
  groups: Row[];
}

describe.skipIf(!support.available)('igmpproxy diagnose in the IPTV lab', () => {
  let lab: IptvLab;
  let proxy: ProxyHandle;
  let dir = '';
  let helper = '';
  let bin = '';
  let pidfile = '';
  let statusFile = '';
  let goodConfig = '';

  /** Runs diagnose in the router's namespace with the lab's PATH (legacy iptables first). */
  async function diagnose(json = true): Promise<{ code: number | null; stdout: string; report: Report }> {
    const result = await lab.proxyNamespace.exec(
      [
        'env',
        `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
        ...labNode,
        MAIN,
        'diagnose',
        ...(json ? ['--json'] : []),
        '--pidfile',
        pidfile,
        '--status-file',
        statusFile,
        proxy.configPath,
      ],
      60_000,
    );
    let report: Report = { schema: 0, checks: [], groups: [] };
    try {
      if (json) report = JSON.parse(result.stdout) as Report;
    } catch {
      throw new Error(`diagnose (exit ${result.code}) printed no JSON:\n${result.stdout}\n${result.stderr}`);
    }
    return { code: result.code, stdout: result.stdout, report };
  }

  const problems = (report: Report): Check[] => report.checks.filter((check) => !check.ok);
  const firewall = (action: string) =>
    lab.proxyNamespace.run(['env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, helper, action], 60_000);
  const tvPackets = async (): Promise<number> => (await lab.tv(0).stats()).groups[GROUP]?.packets ?? 0;
  async function streamFlows(): Promise<void> {
    const before = await tvPackets();
    await lab.waitFor(
      async () => (await tvPackets()) >= before + 20,
      scaled(15_000),
      `the stream ${GROUP} at the TV again`,
      100,
    );
  }

  beforeAll(async () => {
    lab = await IptvLab.create({
      prefix: PREFIX,
      sourceAddress: LAB_ADDRESSES.altSource,
      queryIntervalMs: QUERY_INTERVAL_MS,
      tvClients: 1,
    });
    dir = await mkdtemp(path.join(tmpdir(), `${PREFIX}-diagnose-`));
    pidfile = path.join(dir, 'igmpproxy.pid');
    statusFile = path.join(dir, 'igmpproxy.status');
    goodConfig = lab.proxyConfig();
    proxy = await lab.startProxy({
      command: [...labNode, MAIN, '-d', '-v', '--pidfile', pidfile, '--status-file', statusFile],
      config: goodConfig,
    });
    await proxy.waitForLog(/ started$/, scaled(10_000));

    // Legacy iptables as "iptables" in front of PATH (the helper lets a caller choose so).
    bin = path.join(dir, 'bin');
    await mkdir(bin);
    for (const name of ['iptables', 'iptables-restore'])
      await symlink('/usr/sbin/xtables-legacy-multi', path.join(bin, name));
    if (!existsSync('/proc/net/ip_tables_names')) await execBounded(['modprobe', 'ip_tables']);
    for (const args of [
      ['-N', 'IPTVINPUT'],
      ['-A', 'INPUT', '-j', 'IPTVINPUT'],
      ['-N', 'IPTVFORWARD'],
      ['-A', 'FORWARD', '-j', 'IPTVFORWARD'],
      ['-N', 'CUSTOMOUTPUT'],
      ['-A', 'OUTPUT', '-j', 'CUSTOMOUTPUT'],
    ]) {
      await lab.proxyNamespace.run([path.join(bin, 'iptables'), '-w', ...args]);
    }
    // The add-on's firewall helper, rendered for this lab: its daemon is ours from source.
    const daemon = path.join(dir, 'igmpproxy');
    await writeFile(daemon, `#!/bin/sh\nexec ${[...labNode, MAIN].map((arg) => `'${arg}'`).join(' ')} "$@"\n`);
    await chmod(daemon, 0o755);
    const rendered = await renderScripts(await readPackageInfo(), { ...LAYOUT, daemon, config: proxy.configPath });
    const script = rendered.payload.find((file) => file.path === LAYOUT.firewallHelper.slice(1));
    if (!script) throw new Error('no firewall helper rendered');
    helper = path.join(dir, 'firewall');
    await writeFile(helper, script.content);
    await chmod(helper, 0o755);
    await firewall('start');

    await lab.tv(0).join(GROUP);
    await lab.tv(0).waitFirstPacket(GROUP, scaled(10_000));
  }, scaled(120_000));

  afterAll(async () => {
    await lab?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, scaled(30_000));

  test(
    'a healthy lab: no problem, exit 0, the stream with its receiver and rate',
    async () => {
      await streamFlows();
      const { code, report } = await diagnose();
      expect(problems(report)).toEqual([]);
      expect(code).toBe(0);
      expect(report.schema).toBe(1);
      expect(report.checks.map((check) => check.id)).toEqual([
        'config',
        'kernel-mroute',
        'daemon',
        'upstream-exists',
        'upstream-up',
        'upstream-multicast',
        'upstream-rp-filter',
        'upstream-querier',
        'upstream-altnet',
        'downstream-limits',
        'firewall',
        'streams',
      ]);
      const row = report.groups.find((entry) => entry.group === GROUP);
      expect(row).toMatchObject({ source: LAB_ADDRESSES.altSource, receivers: 1, stalled: false });
      expect(row?.packets).toBeGreaterThan(0);
      expect(row?.bitsPerSecond).toBeGreaterThan(0);
      const human = await diagnose(false);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/No problem found\.\n$/);
      console.info(`diagnose, healthy lab:\n${human.stdout}`);
    },
    scaled(120_000),
  );

  test(
    'the firewall rules removed: firewall, fixed by the helper',
    async () => {
      await firewall('stop');
      const { code, report } = await diagnose();
      expect(code).toBe(1);
      expect(problems(report)).toEqual([
        {
          id: 'firewall',
          ok: false,
          message: expect.stringContaining('the jump IPTVINPUT -> IGMPPROXY_IN'),
          fix: '/usr/lib/igmpproxy/firewall reload',
        },
      ]);
      await firewall('start');
    },
    scaled(120_000),
  );

  test(
    'strict rp_filter with the sources routed elsewhere: upstream-rp-filter',
    async () => {
      const up = lab.interfaces.upstream;
      await lab.proxyNamespace.ip('route', 'add', LAB_ADDRESSES.altSourceSubnet, 'dev', lab.interfaces.bridge);
      await lab.proxyNamespace.sysctl(`net.ipv4.conf.${up}.rp_filter`, 1);
      try {
        const { code, report } = await diagnose();
        expect(code).toBe(1);
        const found = problems(report).find((check) => check.id === 'upstream-rp-filter');
        expect(found).toMatchObject({
          interface: up,
          message:
            `rp_filter 1 (strict) on ${up}, and the stream sources 203.0.113.0/24 and 203.0.113.10 route back via ${lab.interfaces.bridge}, ` +
            `not ${up}: the kernel drops these streams before igmpproxy sees them`,
          fix: expect.stringContaining(`echo 2 > /proc/sys/net/ipv4/conf/${up}/rp_filter`),
        });
        console.info(`diagnose, strict rp_filter:\n${(await diagnose(false)).stdout}`);
      } finally {
        await lab.proxyNamespace.sysctl(`net.ipv4.conf.${up}.rp_filter`, 0);
        await lab.proxyNamespace.ip('route', 'del', LAB_ADDRESSES.altSourceSubnet, 'dev', lab.interfaces.bridge);
      }
      await streamFlows();
    },
    scaled(120_000),
  );

  test(
    "the provider's querier falls silent: upstream-querier",
    async () => {
      await lab.isp.setQueryInterval(0);
      try {
        // Two query intervals (QQIC 2 s) and a margin, in real time: the daemon's clock.
        await new Promise((resolve) => setTimeout(resolve, 2 * QUERY_INTERVAL_MS + 1_500));
        const { code, report } = await diagnose();
        expect(code).toBe(1);
        expect(problems(report).find((check) => check.id === 'upstream-querier')).toMatchObject({
          interface: lab.interfaces.upstream,
          message: expect.stringMatching(
            new RegExp(
              `^no query heard on ${lab.interfaces.upstream} for \\d+ s \\(last from ${LAB_ADDRESSES.ispLink}; it asks every 2 s\\)`,
            ),
          ),
          fix: expect.stringContaining(`let IGMP in on ${lab.interfaces.upstream}`),
        });
      } finally {
        await lab.isp.setQueryInterval(QUERY_INTERVAL_MS);
      }
      await streamFlows();
    },
    scaled(120_000),
  );

  test(
    'the stream source outside every altnet: upstream-altnet, with the altnet to add',
    async () => {
      const from = proxy.log.length;
      await writeFile(proxy.configPath, lab.proxyConfig({ altnets: ['198.51.100.0/24'] }));
      proxy.process.child.kill('SIGHUP');
      await proxy.waitForLog(/reloaded /, scaled(10_000), from);
      try {
        await proxy.waitForLog(
          /comes from outside .* and every altnet of this upstream; not forwarded/,
          scaled(15_000),
          from,
        );
        const { code, report } = await diagnose();
        expect(code).toBe(1);
        expect(problems(report).find((check) => check.id === 'upstream-altnet')).toMatchObject({
          interface: lab.interfaces.upstream,
          message: `${GROUP} from ${LAB_ADDRESSES.altSource} arrives on ${lab.interfaces.upstream} from outside its subnet and every altnet: not forwarded`,
          fix: expect.stringContaining(
            `add "altnet 203.0.113.0/24" (or the provider's wider range) under "phyint ${lab.interfaces.upstream} upstream"`,
          ),
        });
      } finally {
        const back = proxy.log.length;
        await writeFile(proxy.configPath, goodConfig);
        proxy.process.child.kill('SIGHUP');
        await proxy.waitForLog(/reloaded /, scaled(10_000), back);
      }
      await streamFlows();
    },
    scaled(120_000),
  );

  test(
    'the TV refused (a report with IP TTL 64, a join beyond maxgroupsperhost 1): downstream-limits with both counts',
    async () => {
      const tv = tvAddress(0).replaceAll('.', '\\.');
      const from = proxy.log.length;
      const forged = '239.77.9.1';
      const payload = buildIgmp({ type: 'v2-report', group: parseIpv4(forged)! });
      expect(await lab.tv(0).mcastSend({ destination: forged, payloads: [payload], ttl: 64 })).toMatchObject({
        sent: 1,
        failed: 0,
      });
      await proxy.waitForLog(new RegExp(`ignoring IGMP v2-report from ${tv} with IP TTL 64`), scaled(10_000), from);
      await writeFile(proxy.configPath, lab.proxyConfig({ extra: 'maxgroupsperhost 1' }));
      proxy.process.child.kill('SIGHUP');
      await proxy.waitForLog(/reloaded /, scaled(10_000), from);
      const second = '239.77.9.2';
      try {
        // The TV watches GROUP already: its second group is one beyond the limit.
        await lab.tv(0).join(second);
        await proxy.waitForLog(
          new RegExp(`join of ${second.replaceAll('.', '\\.')} from ${tv} ignored: this host is already in 1 groups`),
          scaled(10_000),
          from,
        );
        const { code, report } = await diagnose();
        expect(code).toBe(1);
        expect(problems(report)).toEqual([
          {
            id: 'downstream-limits',
            interface: lab.interfaces.bridge,
            ok: false,
            message: expect.stringMatching(
              new RegExp(
                `^${lab.interfaces.bridge} ignored IGMP since it came up: [1-9]\\d* joins? beyond maxgroupsperhost 1, ` +
                  `1 IGMP with IP TTL not 1; the latest from ${tv}, \\d+ s ago$`,
              ),
            ),
            fix: expect.stringContaining(`put a "maxgroupsperhost" above 1 in ${proxy.configPath}`),
          },
        ]);
        expect(problems(report)[0]?.fix).toContain('"igmpttl any"');
        const human = await diagnose(false);
        expect(human.code).toBe(1);
        expect(human.stdout).toMatch(
          new RegExp(
            `^PROBLEM  downstream-limits +${lab.interfaces.bridge} ignored IGMP since it came up: .*\\n +fix: if ${tv} is a TV`,
            'm',
          ),
        );
        console.info(`diagnose, refusals on the downstream:\n${human.stdout}`);
      } finally {
        await lab.tv(0).leave(second);
        const back = proxy.log.length;
        await writeFile(proxy.configPath, goodConfig);
        proxy.process.child.kill('SIGHUP');
        await proxy.waitForLog(/reloaded /, scaled(10_000), back);
      }
      await streamFlows();
    },
    scaled(120_000),
  );

  test(
    'the daemon stopped: daemon; then multicast off on the upstream: upstream-multicast too',
    async () => {
      await proxy.stop(scaled(5_000));
      const stopped = await diagnose();
      expect(stopped.code).toBe(1);
      expect(problems(stopped.report)).toEqual([
        {
          id: 'daemon',
          ok: false,
          message: `igmpproxy does not run (no pid in ${pidfile})`,
          fix: '/etc/rc.d/init.d/igmpproxy start (if it stops again, the reason is in /var/log/messages)',
        },
      ]);

      const up = lab.interfaces.upstream;
      await lab.proxyNamespace.ip('link', 'set', 'dev', up, 'multicast', 'off');
      try {
        const { code, report, stdout } = await diagnose();
        expect(code).toBe(1);
        expect(problems(report).map((check) => check.id)).toEqual(['daemon', 'upstream-multicast']);
        expect(problems(report)[1]).toMatchObject({
          interface: up,
          message: `multicast is switched off on ${up}: no stream is received`,
          fix: expect.stringContaining(`ip link set dev ${up} multicast on`),
        });
        expect(stdout).not.toBe('');
        console.info(`diagnose, daemon stopped and multicast off:\n${(await diagnose(false)).stdout}`);
      } finally {
        await lab.proxyNamespace.ip('link', 'set', 'dev', up, 'multicast', 'on');
      }
    },
    scaled(120_000),
  );
});
