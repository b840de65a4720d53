// The firewall helper (/usr/lib/igmpproxy/firewall) with real iptables in a network namespace
// this test creates. IPFire uses legacy iptables; so does this test (xtables-legacy-multi put
// in front of PATH as "iptables", the way the helper lets a caller choose). The interface
// names come from the real daemon's --list-interfaces (test/helpers/real-daemon.ts).
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { LAYOUT, readPackageInfo, renderScripts, renderTemplate, templateValues } from '../../build/render.ts';
import { NetnsLab, type ExecResult, type Netns } from '../../scripts/lab/netns.ts';
import { realDaemonShellCommand } from '../helpers/real-daemon.ts';
import { REPO_ROOT } from '../../build/render.ts';
import { applianceSupport, PREFIX } from './support.ts';
import { hostShareRule, hostShareTable } from './host-share.ts';

const support = applianceSupport();

// Names a shell would expand or split if the helper ever let it: they must reach iptables as
// they are. Names iptables would read differently (a trailing "+" is its wildcard) are refused
// with a warning; names longer than the kernel's 15 bytes the daemon itself refuses.
const UP_PLAIN = 'ipp6up0';
const UP_DOLLAR = 'ipp6$(id)';
const DOWN_PLAIN = 'ipp6dn0';
const DOWN_GLOB = 'ipp6*\'`x`"';
const CONFIG = `# test configuration
quickleave
phyint ${UP_PLAIN} upstream ratelimit 0 threshold 1
    altnet 10.0.0.0/8;
phyint ${UP_DOLLAR} upstream
phyint ${DOWN_PLAIN} downstream
phyint ${DOWN_GLOB} downstream
phyint ipp6wild+ downstream
phyint ipp6off disabled
`;

describe.skipIf(!support.available)(`firewall helper with real iptables ${support.reason}`, () => {
  const lab = new NetnsLab(PREFIX);
  let ns: Netns;
  let work = '';
  let helper = '';
  let configPath = '';
  let env: NodeJS.ProcessEnv = {};
  let initial = '';
  // Every run of the daemon binary leaves a line here (a wrapper around the real daemon).
  let runsLog = '';

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-fw-'));
    configPath = path.join(work, 'igmpproxy.conf');
    await writeFile(configPath, CONFIG);
    runsLog = path.join(work, 'daemon-runs');
    const daemon = path.join(work, 'igmpproxy');
    await writeFile(daemon, `#!/bin/bash\necho "$*" >> '${runsLog}'\nexec ${realDaemonShellCommand()} "$@"\n`);
    await chmod(daemon, 0o755);
    const rendered = await renderScripts(await readPackageInfo(), {
      ...LAYOUT,
      daemon,
      config: configPath,
    });
    const script = rendered.payload.find((file) => file.path === 'usr/lib/igmpproxy/firewall');
    if (!script) throw new Error('no firewall helper rendered');
    helper = path.join(work, 'firewall');
    await writeFile(helper, script.content);
    await chmod(helper, 0o755);
    await mkdir(path.join(work, 'bin'));
    await symlink('/usr/sbin/xtables-legacy-multi', path.join(work, 'bin/iptables'));
    await symlink('/usr/sbin/xtables-legacy-multi', path.join(work, 'bin/iptables-restore'));
    env = { PATH: `${path.join(work, 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin` };

    ns = await lab.createNamespace('fw');
    // What IPFire's firewall initscript sets up, plus an admin rule that must stay.
    for (const args of [
      ['-N', 'IPTVINPUT'],
      ['-A', 'INPUT', '-j', 'IPTVINPUT'],
      ['-N', 'IPTVFORWARD'],
      ['-A', 'FORWARD', '-j', 'IPTVFORWARD'],
      ['-N', 'CUSTOMOUTPUT'],
      ['-A', 'OUTPUT', '-j', 'CUSTOMOUTPUT'],
      ['-A', 'CUSTOMOUTPUT', '-o', 'blue0', '-j', 'ACCEPT'],
      ['-N', 'CUSTOMINPUT'],
      ['-A', 'INPUT', '-j', 'CUSTOMINPUT'],
      ['-A', 'CUSTOMINPUT', '-i', 'blue0', '-j', 'ACCEPT'],
    ]) {
      await ns.run(['iptables-legacy', ...args]);
    }
    initial = await snapshot();
  });

  afterAll(async () => {
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function snapshot(): Promise<string> {
    return ns.run(['iptables-legacy', '-S']);
  }

  function runHelper(command: string): Promise<ExecResult> {
    return ns.exec(['env', '-i', `PATH=${env.PATH}`, helper, command]);
  }

  async function mustHelper(command: string): Promise<ExecResult> {
    const result = await runHelper(command);
    expect(result.code, `${command}: ${result.stderr}`).toBe(0);
    return result;
  }

  const expectedRules = [
    '-N IGMPPROXY_IN',
    '-N IGMPPROXY_FWD',
    '-N IGMPPROXY_OUT',
    `-A IGMPPROXY_IN -i ${UP_PLAIN} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_IN -d 224.0.0.0/4 -i ${UP_PLAIN} -j ACCEPT`,
    `-A IGMPPROXY_IN -i ${UP_DOLLAR} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_IN -d 224.0.0.0/4 -i ${UP_DOLLAR} -j ACCEPT`,
    // The receivers' reports: IPFire's POLICYIN accepts only GREEN and BLUE; each host's
    // share of them only (xt_hashlimit, one table per downstream), dropped before the accept.
    hostShareRule(DOWN_PLAIN),
    `-A IGMPPROXY_IN -i ${DOWN_PLAIN} -p igmp -j ACCEPT`,
    hostShareRule(DOWN_GLOB),
    `-A IGMPPROXY_IN -i ${DOWN_GLOB} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_FWD -d 224.0.0.0/4 -i ${UP_PLAIN} -o ${DOWN_PLAIN} -j ACCEPT`,
    `-A IGMPPROXY_FWD -d 224.0.0.0/4 -i ${UP_PLAIN} -o ${DOWN_GLOB} -j ACCEPT`,
    `-A IGMPPROXY_FWD -d 224.0.0.0/4 -i ${UP_DOLLAR} -o ${DOWN_PLAIN} -j ACCEPT`,
    `-A IGMPPROXY_FWD -d 224.0.0.0/4 -i ${UP_DOLLAR} -o ${DOWN_GLOB} -j ACCEPT`,
    // The proxy's own reports upstream and queries downstream (POLICYOUT may drop them).
    `-A IGMPPROXY_OUT -d 224.0.0.0/4 -o ${UP_PLAIN} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_OUT -d 224.0.0.0/4 -o ${UP_DOLLAR} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_OUT -d 224.0.0.0/4 -o ${DOWN_PLAIN} -p igmp -j ACCEPT`,
    `-A IGMPPROXY_OUT -d 224.0.0.0/4 -o ${DOWN_GLOB} -p igmp -j ACCEPT`,
    '-A IPTVINPUT -j IGMPPROXY_IN',
    '-A IPTVFORWARD -j IGMPPROXY_FWD',
    '-A CUSTOMOUTPUT -j IGMPPROXY_OUT',
  ];

  /** `iptables -S` lists chains first, then rules chain by chain: the expected full snapshot. */
  function expectedSnapshot(): string {
    const lines = initial.trimEnd().split('\n');
    const policies = lines.filter((l) => l.startsWith('-P'));
    const chains = lines.filter((l) => l.startsWith('-N'));
    const rules = lines.filter((l) => l.startsWith('-A'));
    const ours = (chain: string) => expectedRules.filter((r) => r.startsWith(`-A ${chain} `));
    const order = [
      'INPUT',
      'FORWARD',
      'OUTPUT',
      'CUSTOMINPUT',
      'CUSTOMOUTPUT',
      'IGMPPROXY_FWD',
      'IGMPPROXY_IN',
      'IGMPPROXY_OUT',
      'IPTVFORWARD',
      'IPTVINPUT',
    ];
    const allChains = [...chains, '-N IGMPPROXY_IN', '-N IGMPPROXY_FWD', '-N IGMPPROXY_OUT'];
    const byChain = (chain: string) => [...rules.filter((r) => r.startsWith(`-A ${chain} `)), ...ours(chain)];
    const chainOrder = (line: string) => order.indexOf(line.split(' ')[1]!);
    return `${[...policies, ...allChains.sort((a, b) => chainOrder(a) - chainOrder(b)), ...order.flatMap(byChain)].join('\n')}\n`;
  }

  it('start adds exactly the rules for the configured interfaces, names passed literally', async () => {
    const result = await mustHelper('start');
    // Unusable names are refused loudly, not passed on.
    expect(result.stderr).toContain("ignoring unusable interface name 'ipp6wild+'");
    // The config's warnings (its trailing ";") are --check's business, not every firewall reload's.
    expect(result.stderr).not.toContain('warning');
    const now = await snapshot();
    for (const rule of expectedRules) expect(now.split('\n'), rule).toContain(rule);
    expect(now).toBe(expectedSnapshot());
    expect(now).not.toContain('ipp6off');
    // One hashlimit table per downstream, named from its interface name.
    expect((await ns.run(['ls', '/proc/net/ipt_hashlimit'])).trim().split('\n').sort()).toEqual(
      [hostShareTable(DOWN_PLAIN), hostShareTable(DOWN_GLOB)].sort(),
    );
  });

  it('start twice, reload and refresh leave the same rules, once', async () => {
    const once = await snapshot();
    await mustHelper('start');
    expect(await snapshot()).toBe(once);
    await mustHelper('reload');
    expect(await snapshot()).toBe(once);
    await mustHelper('refresh');
    expect(await snapshot()).toBe(once);
  });

  it('status shows our chains and hooks', async () => {
    const result = await mustHelper('status');
    expect(result.stdout).toContain(`-A IGMPPROXY_IN -i ${UP_PLAIN} -p igmp -j ACCEPT`);
    expect(result.stdout).toContain('IPTVINPUT jumps to IGMPPROXY_IN');
    expect(result.stdout).toContain('IPTVFORWARD jumps to IGMPPROXY_FWD');
    expect(result.stdout).toContain('CUSTOMOUTPUT jumps to IGMPPROXY_OUT');
  });

  it('start repairs a duplicated jump to exactly one', async () => {
    await ns.run(['iptables-legacy', '-A', 'IPTVINPUT', '-j', 'IGMPPROXY_IN']);
    await ns.run(['iptables-legacy', '-I', 'IPTVINPUT', '-j', 'IGMPPROXY_IN']);
    await ns.run(['iptables-legacy', '-A', 'CUSTOMOUTPUT', '-j', 'IGMPPROXY_OUT']);
    await mustHelper('start');
    expect(await snapshot()).toBe(expectedSnapshot());
  });

  it('stop restores the exact initial state, and stop again is no error', async () => {
    await mustHelper('stop');
    expect(await snapshot()).toBe(initial);
    // The kernel drops a hashlimit table with its last rule.
    expect((await ns.run(['ls', '/proc/net/ipt_hashlimit'])).trim()).toBe('');
    await mustHelper('stop');
    expect(await snapshot()).toBe(initial);
    const status = await runHelper('status');
    expect(status.code).toBe(3);
    expect(status.stdout).toContain('IPTVINPUT does not jump to IGMPPROXY_IN');
  });

  it('many reload cycles (what IPFire does on every rule change) never pile rules up', async () => {
    await mustHelper('start');
    for (let i = 0; i < 5; i++) await mustHelper('reload');
    expect(await snapshot()).toBe(expectedSnapshot());
    await mustHelper('stop');
    expect(await snapshot()).toBe(initial);
  });

  it('an invalid config opens nothing and says why', async () => {
    await writeFile(configPath, 'phyint ipp6up0 upstream\nbogus keyword\n');
    try {
      const result = await runHelper('start');
      expect(result.code).not.toBe(0);
      // The parser's own words, passed on as the daemon prints them.
      expect(result.stderr).toContain(`${configPath}:2:1: error: unknown keyword \`bogus\``);
      expect(result.stderr).toContain('no IPTV rules set');
      // Checked before any chain is made: nothing of ours exists.
      expect(await snapshot()).toBe(initial);
    } finally {
      await writeFile(configPath, CONFIG);
    }
  });

  it("without IPFire's IPTV chains: start fails and says why, refresh quietly does nothing", async () => {
    const bare = await lab.createNamespace('bare');
    const before = await bare.run(['iptables-legacy', '-S']);
    const start = await bare.exec(['env', '-i', `PATH=${env.PATH}`, helper, 'start']);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('chain IPTVINPUT does not exist');
    const refresh = await bare.exec(['env', '-i', `PATH=${env.PATH}`, helper, 'refresh']);
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(refresh.stderr).toBe('');
    expect(await bare.run(['iptables-legacy', '-S'])).toBe(before);
  });

  async function daemonRuns(): Promise<string[]> {
    return (await readFile(runsLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  }

  it('a reload runs the daemon once and swaps the rules in one iptables-restore', async () => {
    await mustHelper('start');
    const before = (await daemonRuns()).length;
    await mustHelper('reload');
    expect((await daemonRuns()).slice(before)).toEqual([`--list-interfaces all ${configPath}`]);
    expect(await snapshot()).toBe(expectedSnapshot());
  });

  it('IPFire\'s firewall.local reload ("$0 stop; $0 start") with our hook block: rules never removed, one daemon run', async () => {
    // IPFire's own firewall.local (test/fixtures/ipfire), with the block install.sh adds after line 1.
    const stock = await readFile(path.join(REPO_ROOT, 'test/fixtures/ipfire/firewall.local'), 'utf8');
    const hookTemplate = await readFile(path.join(REPO_ROOT, 'initscripts/firewall-local-hook.mustache'), 'utf8');
    const block = renderTemplate(
      hookTemplate,
      templateValues(await readPackageInfo(), { ...LAYOUT, firewallHelper: helper }),
    );
    const [shebang, ...rest] = stock.split('\n');
    const firewallLocal = path.join(work, 'firewall.local');
    await writeFile(firewallLocal, [shebang, block.trimEnd(), ...rest].join('\n'));
    await chmod(firewallLocal, 0o755);
    // Every helper action inside the reload is logged: a "stop" would be a window without rules.
    const traced = path.join(work, 'helper-calls');
    const tracedHelper = await readFile(helper, 'utf8');
    await writeFile(helper, tracedHelper.replace('\nset -u\n', `\nset -u\necho "$1" >> '${traced}'\n`));
    try {
      await mustHelper('start');
      await writeFile(traced, '');
      const before = (await daemonRuns()).length;
      const result = await ns.exec(['env', '-i', `PATH=${env.PATH}`, firewallLocal, 'reload']);
      expect(result.code, result.stderr).toBe(0);
      expect((await readFile(traced, 'utf8')).split('\n').filter(Boolean)).toEqual(['reload']);
      expect((await daemonRuns()).length - before).toBe(1);
      expect(await snapshot()).toBe(expectedSnapshot());
      // By hand, stop and start still act.
      await ns.run(['env', '-i', `PATH=${env.PATH}`, firewallLocal, 'stop']);
      expect(await snapshot()).toBe(initial);
      await ns.run(['env', '-i', `PATH=${env.PATH}`, firewallLocal, 'start']);
      expect(await snapshot()).toBe(expectedSnapshot());
    } finally {
      await writeFile(helper, tracedHelper);
    }
  });

  it('a name the daemon would never list (17 bytes) is still refused by the helper itself', async () => {
    // Defence in depth against a daemon that misbehaves: this "daemon" is a fixed answer of
    // --list-interfaces, the only thing the helper asks it.
    const fixedAnswer = path.join(work, 'fixed-list-interfaces');
    await writeFile(fixedAnswer, `#!/bin/bash\nprintf 'upstream ${UP_PLAIN}\\ndownstream ipp6abcdefghijklm\\n'\n`, {
      mode: 0o755,
    });
    const rendered = await renderScripts(await readPackageInfo(), {
      ...LAYOUT,
      daemon: fixedAnswer,
      config: configPath,
    });
    const otherHelper = path.join(work, 'firewall-fixed');
    await writeFile(otherHelper, rendered.payload.find((file) => file.path === 'usr/lib/igmpproxy/firewall')!.content, {
      mode: 0o755,
    });
    const start = await ns.exec(['env', '-i', `PATH=${env.PATH}`, otherHelper, 'start']);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr).toContain("ignoring unusable interface name 'ipp6abcdefghijklm'");
    const rules = await snapshot();
    expect(rules).toContain(`-A IGMPPROXY_IN -i ${UP_PLAIN} -p igmp -j ACCEPT`);
    expect(rules).not.toContain('ipp6abcdefghijklm');
    await ns.run(['env', '-i', `PATH=${env.PATH}`, otherHelper, 'stop']);
    expect(await snapshot()).toBe(initial);
  });

  it('refuses unknown commands with a usage line', async () => {
    const result = await runHelper('restart');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Usage: .*\{start\|stop\|reload\|refresh\|status\}/);
  });
});
