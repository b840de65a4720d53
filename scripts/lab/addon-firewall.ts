// The add-on's firewall rules in a lab's proxy namespace, so a lab measures the shipped
// configuration: the firewall helper (initscripts/firewall-helper.mustache) rendered as the
// package renders it, run against IPFire's hook chains (IPTVINPUT, IPTVFORWARD,
// CUSTOMOUTPUT, made here empty, with IPFire's legacy iptables). The helper asks `daemon`
// for the config's interfaces, as on the appliance. Everything it makes lives in the
// namespace and goes with it.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LAYOUT, readPackageInfo, renderScripts } from '../../build/render.ts';
import type { ExecResult, Netns } from './netns.ts';

const LEGACY_IPTABLES = '/usr/sbin/xtables-legacy-multi';
const IPFIRE_HOOKS = [
  ['-N', 'IPTVINPUT'],
  ['-A', 'INPUT', '-j', 'IPTVINPUT'],
  ['-N', 'IPTVFORWARD'],
  ['-A', 'FORWARD', '-j', 'IPTVFORWARD'],
  ['-N', 'CUSTOMOUTPUT'],
  ['-A', 'OUTPUT', '-j', 'CUSTOMOUTPUT'],
] as const;

/** Packets the per-host share rule of one downstream dropped, and its accept let in. */
export interface ShareCounters {
  readonly dropped: number;
  readonly accepted: number;
}

const shellWord = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

export class AddonFirewall {
  private readonly namespace: Netns;
  private readonly dir: string;
  private readonly iptables: string;

  private constructor(namespace: Netns, dir: string, iptables: string) {
    this.namespace = namespace;
    this.dir = dir;
    this.iptables = iptables;
  }

  /** Hooks, helper, `helper start`; `daemon` is the argument vector of the daemon (--list-interfaces is appended). */
  static async apply(namespace: Netns, daemon: readonly string[], configPath: string): Promise<AddonFirewall> {
    const firewall = await AddonFirewall.install(namespace, daemon, configPath);
    const started = await firewall.helper('start');
    if (started.code !== 0) {
      await firewall.dispose();
      throw new Error(`the firewall helper failed: ${started.stderr.trim()}`);
    }
    return firewall;
  }

  /** Hooks and helper, nothing started: for tests that drive the helper themselves (helper()). */
  static async install(namespace: Netns, daemon: readonly string[], configPath: string): Promise<AddonFirewall> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'addon-firewall-'));
    try {
      const bin = path.join(dir, 'bin');
      await mkdir(bin);
      for (const name of ['iptables', 'iptables-restore']) await symlink(LEGACY_IPTABLES, path.join(bin, name));
      const iptables = path.join(bin, 'iptables');
      for (const args of IPFIRE_HOOKS) await namespace.run([iptables, '-w', ...args]);
      const wrapper = path.join(dir, 'igmpproxy');
      await writeFile(wrapper, `#!/bin/sh\nexec ${daemon.map(shellWord).join(' ')} "$@"\n`);
      await chmod(wrapper, 0o755);
      const rendered = await renderScripts(await readPackageInfo(), { ...LAYOUT, daemon: wrapper, config: configPath });
      const script = rendered.payload.find((file) => file.path === LAYOUT.firewallHelper.slice(1));
      if (!script) throw new Error('no firewall helper rendered');
      await writeFile(path.join(dir, 'firewall'), script.content, { mode: 0o755 });
      return new AddonFirewall(namespace, dir, iptables);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Runs the helper (start, reload, refresh, stop) in the namespace with a clean environment. */
  helper(action: string): Promise<ExecResult> {
    const pathVariable = `PATH=${path.join(this.dir, 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`;
    return this.namespace.exec(['env', '-i', pathVariable, path.join(this.dir, 'firewall'), action]);
  }

  /**
   * The packets of `downstream`'s share DROP and IGMP ACCEPT rules in the helper's input
   * chain, summed over the rule pairs it has (one per own network and one for every other
   * source: initscripts/firewall-helper.mustache).
   */
  async shareCounters(downstream: string): Promise<ShareCounters> {
    const listing = await this.namespace.run([this.iptables, '-w', '-L', LAYOUT.chainIn, '-v', '-x', '-n']);
    const count = (target: string): number => {
      const rows = listing
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((words) => words[2] === target && words[5] === downstream);
      if (rows.length === 0) throw new Error(`no ${target} rule for ${downstream} in:\n${listing}`);
      return rows.reduce((total, words) => total + Number(words[0]), 0);
    };
    return { dropped: count('DROP'), accepted: count('ACCEPT') };
  }

  /** Removes the helper's files (the rules go with the namespace). */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
