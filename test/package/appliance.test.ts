// Runs the package's install.sh, update.sh and uninstall.sh for real, the way Pakfire does,
// in a throwaway IPFire-like root (see appliance.ts): IPFire's own rc functions, Pakfire's as stand-ins.
// The daemon inside the package is test/fixtures/appliance/igmpproxy-standin: the real daemon
// for --check, --list-interfaces and setup, a stand-in only for running (which needs
// multicast routing, absent from this machine's kernel).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chown, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { AS_NOBODY, Appliance, buildStandinPackage, FIXTURES, WAIT_FOR_PIDFILE } from './appliance.ts';
import { applianceSupport, PREFIX, renderedHookBlock } from './support.ts';
import { ADDONCTRL } from '../helpers/addonctrl.ts';
import { hostShareRule } from './host-share.ts';

const support = applianceSupport();
const FIREWALL_LOCAL = '/etc/sysconfig/firewall.local';
const CONFIG = '/etc/igmpproxy.conf';
const DEFAULT_CONFIG = readFileSync(path.join(FIXTURES, '../../../addon/etc/igmpproxy.conf'));

const USER_CONFIG = Buffer.from(
  '# my own settings\nquickleave\nphyint ppp0 upstream ratelimit 0 threshold 1\n  altnet 217.0.0.0/16;\nphyint green0 downstream\n',
);

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** firewall.local files as admins have them. */
const FIREWALL_LOCALS: ReadonlyArray<readonly [string, Buffer]> = [
  ['the how-to, VLAN 8 example', readFileSync(path.join(FIXTURES, 'firewall.local.seed-vlan8'))],
  ['the how-to, BNG example (with its -I in stop)', readFileSync(path.join(FIXTURES, 'firewall.local.seed-bng'))],
  [
    'no newline at the end',
    Buffer.from(
      '#!/bin/sh\ncase "$1" in\n  start)\n    /sbin/iptables -A CUSTOMINPUT -i blue0 -j ACCEPT\n    ;;\nesac',
    ),
  ],
  ['CRLF line ends', Buffer.from('#!/bin/sh\r\n# from Windows\r\ncase "$1" in\r\n  start)\r\n    ;;\r\nesac\r\n')],
  ['Latin-1 bytes', latin1('#!/bin/sh\n# Regeln f\xfcr IPTV \xa7 1\ncase "$1" in\n  start) ;;\nesac\n')],
  ['a lone #! line without newline', Buffer.from('#!/bin/sh')],
  ['no #! line', Buffer.from('/sbin/iptables -A CUSTOMINPUT -i blue0 -j ACCEPT\n')],
];

/** Where the block belongs: right after the first line (the #! line). */
function withHook(original: Buffer, hook: Buffer): Buffer {
  if (original.subarray(0, 2).toString('latin1') !== '#!') return Buffer.concat([hook, original]);
  const newline = original.indexOf(0x0a);
  if (newline < 0) return Buffer.concat([original, Buffer.from('\n'), hook.subarray(0, hook.length - 1)]);
  return Buffer.concat([original.subarray(0, newline + 1), hook, original.subarray(newline + 1)]);
}

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) count++;
  return count;
}

// Each step runs real scripts in fresh namespaces; a shared 2-core machine can be slow.
describe.skipIf(!support.available)(
  `pakfire scripts in a throwaway appliance root ${support.reason}`,
  { timeout: 180_000 },
  () => {
    const lab = new NetnsLab(PREFIX);
    const appliances: Appliance[] = [];
    let work = '';
    let pkg: PackageFiles;
    let hook: Buffer;

    beforeAll(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-pak-'));
      pkg = await buildStandinPackage(work);
      hook = await renderedHookBlock();
    });

    afterAll(async () => {
      await Promise.all(appliances.map((a) => a.dispose()));
      await lab.cleanup();
      if (work) await rm(work, { recursive: true, force: true });
    });

    async function appliance(): Promise<Appliance> {
      const ns = await lab.createNamespace('app');
      const created = await Appliance.create(ns);
      appliances.push(created);
      return created;
    }

    async function pakfire(a: Appliance, action: 'install' | 'update' | 'uninstall', after = ''): Promise<string> {
      const result = await a.pakfire(action, pkg.ipfire, pkg.meta, after);
      expect(result.code, `${action}.sh failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    }

    async function inside(a: Appliance, script: string): Promise<string> {
      const result = await a.run(script);
      expect(result.code, `${script}\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    }

    it('installs files with their modes, boot links, the default config, and starts the service', async () => {
      const a = await appliance();
      await a.write(FIREWALL_LOCAL, FIREWALL_LOCALS[0]![1], 0o755);
      const out = await pakfire(a, 'install', `${WAIT_FOR_PIDFILE}\n/etc/init.d/igmpproxy status`);

      const modes = await inside(
        a,
        `stat -c '%a %u:%g %n' /usr/sbin/igmpproxy /etc/rc.d/init.d/igmpproxy \
      /etc/rc.d/init.d/networking/red.up/15-igmpproxy /usr/lib/igmpproxy/firewall \
      /usr/share/igmpproxy/igmpproxy.conf.default /var/ipfire/backup/addons/includes/igmpproxy ${CONFIG}`,
      );
      expect(modes.trim().split('\n')).toEqual([
        '755 0:0 /usr/sbin/igmpproxy',
        '754 0:0 /etc/rc.d/init.d/igmpproxy',
        '754 0:0 /etc/rc.d/init.d/networking/red.up/15-igmpproxy',
        '755 0:0 /usr/lib/igmpproxy/firewall',
        '644 0:0 /usr/share/igmpproxy/igmpproxy.conf.default',
        '644 0:0 /var/ipfire/backup/addons/includes/igmpproxy',
        `644 0:0 ${CONFIG}`,
      ]);
      const links = await inside(a, 'for l in /etc/rc.d/rc*.d/*igmpproxy; do echo "$l -> $(readlink "$l")"; done');
      expect(links.trim().split('\n')).toEqual([
        '/etc/rc.d/rc0.d/K40igmpproxy -> ../init.d/igmpproxy',
        '/etc/rc.d/rc3.d/S50igmpproxy -> ../init.d/igmpproxy',
        '/etc/rc.d/rc6.d/K40igmpproxy -> ../init.d/igmpproxy',
      ]);
      // The web page: its files, the settings directory it writes as nobody, the strings cache rebuilt.
      const web = await inside(
        a,
        `stat -c '%a %u:%g %n' /srv/web/ipfire/cgi-bin/igmpproxy.cgi /var/ipfire/menu.d/EX-igmpproxy.menu \
      /var/ipfire/addon-lang/igmpproxy.en.pl /var/ipfire/addon-lang/igmpproxy.de.pl /var/ipfire/igmpproxy`,
      );
      expect(web.trim().split('\n')).toEqual([
        '755 0:0 /srv/web/ipfire/cgi-bin/igmpproxy.cgi',
        '644 0:0 /var/ipfire/menu.d/EX-igmpproxy.menu',
        '644 0:0 /var/ipfire/addon-lang/igmpproxy.en.pl',
        '644 0:0 /var/ipfire/addon-lang/igmpproxy.de.pl',
        '755 99:99 /var/ipfire/igmpproxy',
      ]);
      expect((await a.read('/var/log/update-lang-cache.runs')).toString()).toBe('run\n');
      expect((await a.read(CONFIG)).equals(DEFAULT_CONFIG)).toBe(true);
      const packaged = spawnSync('tar', ['-xOf', pkg.ipfire, 'ROOTFILES'], { encoding: 'utf8' }).stdout;
      expect(packaged).toContain('usr/sbin/igmpproxy\n');
      expect((await a.read('/opt/pakfire/db/rootfiles/igmpproxy')).toString()).toBe(packaged);
      expect(a.exists('/opt/pakfire/db/installed/meta-igmpproxy')).toBe(true);
      // start_service --background ran the initscript; its status line is what the web UI reads.
      expect(out).toMatch(/\n\S*igmpproxy is running with Process ID\(s\)\s+\d+\./);
      // The how-to's firewall.local starts nothing by hand, so no NOTE for it.
      expect(out).not.toContain('NOTE:');
    });

    it.each([
      ['a legacy line (VDSL, IPTV on)', 'legacy-vdsl-iptv', 'red0.8'],
      ['a BNG line (PPPoE, IPTV off)', 'bng-pppoe', 'ppp0'],
    ])(
      'a fresh install on %s (fixture %s) writes its config with igmpproxy setup: upstream %s',
      async (_line, fixture, upstream) => {
        const a = await appliance();
        await a.copyIpfireSettings(fixture);
        const out = await pakfire(a, 'install');
        expect(out).toContain(`Creating ${CONFIG} from IPFire's network settings (igmpproxy setup):`);
        expect(out).toContain(`Wrote ${CONFIG}: upstream ${upstream}, downstream green0`);
        const config = (await a.read(CONFIG)).toString();
        expect(config).toMatch(/^# \/etc\/igmpproxy\.conf - generated by `igmpproxy setup`/m);
        expect(config).toMatch(new RegExp(`^phyint ${upstream.replace('.', '\\.')} upstream$`, 'm'));
        expect(await inside(a, `stat -c '%a %u:%g' ${CONFIG}`)).toBe('644 0:0\n');
        // No backup: there was nothing to keep.
        expect(await inside(a, 'ls /etc | grep -c "igmpproxy.conf.bak" || true')).toBe('0\n');
      },
    );

    it('a fresh install where setup refuses (no red zone) installs the default config and says so', async () => {
      const a = await appliance();
      await a.copyIpfireSettings('no-red-type');
      const result = await a.pakfire('install', pkg.ipfire, pkg.meta);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stderr).toMatch(/igmpproxy setup: no red zone: \/var\/ipfire\/ethernet\/settings sets no RED_TYPE/);
      expect(result.stdout).toContain(`Installing the default ${CONFIG} instead`);
      expect((await a.read(CONFIG)).equals(DEFAULT_CONFIG)).toBe(true);
    });

    it('never runs setup over an existing config, even with settings setup could use', async () => {
      const a = await appliance();
      await a.copyIpfireSettings('legacy-vdsl-iptv');
      await a.write(CONFIG, USER_CONFIG, 0o600);
      const out = await pakfire(a, 'install');
      expect(out).not.toContain('igmpproxy setup');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
      expect(await inside(a, `stat -c '%a' ${CONFIG}; ls /etc | grep -c "igmpproxy.conf.bak" || true`)).toBe(
        '600\n0\n',
      );
    });

    it('points out hand-made start/stop lines left from the how-to', async () => {
      const a = await appliance();
      await a.write(FIREWALL_LOCAL, FIREWALL_LOCALS[1]![1], 0o755);
      const out = await pakfire(a, 'install');
      // Line numbers of the file as it is now (our 3-line block sits above them).
      expect(out).toContain(`NOTE: ${FIREWALL_LOCAL} line 11 starts or stops igmpproxy by hand`);
      expect(out).toContain(`NOTE: ${FIREWALL_LOCAL} line 23 starts or stops igmpproxy by hand`);
    });

    it.each(FIREWALL_LOCALS)(
      'firewall.local (%s): hook once after install, update and re-install; exact original after uninstall',
      async (name, original) => {
        const a = await appliance();
        await a.write(FIREWALL_LOCAL, original, 0o750);
        await chown(a.hostPath(FIREWALL_LOCAL), 1234, 1234);
        const expected = withHook(original, hook);

        // The full cycle for the how-to's files; the odd-byte files take the same path through
        // update (uninstall.sh + install.sh), so a re-install covers them (and keeps this short).
        const actions = name.startsWith('the how-to')
          ? (['install', 'update', 'install'] as const)
          : (['install', 'install'] as const);
        for (const action of actions) {
          await pakfire(a, action);
          const now = await a.read(FIREWALL_LOCAL);
          expect(occurrences(now, hook.subarray(0, hook.indexOf(0x0a) + 1)), `after ${action}`).toBe(1);
          expect(now.equals(expected), `after ${action}:\n${now.toString('latin1')}`).toBe(true);
          const info = await stat(a.hostPath(FIREWALL_LOCAL));
          expect([info.mode & 0o7777, info.uid, info.gid], `after ${action}`).toEqual([0o750, 1234, 1234]);
        }
        await pakfire(a, 'uninstall');
        expect((await a.read(FIREWALL_LOCAL)).equals(original)).toBe(true);
        const info = await stat(a.hostPath(FIREWALL_LOCAL));
        expect([info.mode & 0o7777, info.uid, info.gid]).toEqual([0o750, 1234, 1234]);
        // No temp files left next to it.
        expect(await inside(a, 'ls -A /etc/sysconfig')).toBe('firewall.local\nrc\n');
      },
    );

    it('creates a minimal valid firewall.local when there is none; it runs; uninstall leaves it without the hook', async () => {
      const a = await appliance();
      await pakfire(a, 'install');
      const created = await a.read(FIREWALL_LOCAL);
      expect(occurrences(created, hook)).toBe(1);
      expect((await stat(a.hostPath(FIREWALL_LOCAL))).mode & 0o7777).toBe(0o755);
      // IPFire calls it like this after every rule change.
      await inside(
        a,
        `sh -n ${FIREWALL_LOCAL} && ${FIREWALL_LOCAL} reload && ${FIREWALL_LOCAL} start && ${FIREWALL_LOCAL} stop`,
      );
      await pakfire(a, 'uninstall');
      const left = await a.read(FIREWALL_LOCAL);
      expect(occurrences(left, hook.subarray(0, 10))).toBe(0);
      expect(left.toString()).toMatch(/^#!\/bin\/sh\n[\s\S]*start\)[\s\S]*stop\)[\s\S]*reload\)/);
      await inside(a, `sh -n ${FIREWALL_LOCAL} && ${FIREWALL_LOCAL} reload`);
    });

    it('keeps an edited config through re-install and update, on disk and in the backup after uninstall', async () => {
      const a = await appliance();
      await pakfire(a, 'install');
      await a.write(CONFIG, USER_CONFIG, 0o600);
      await pakfire(a, 'install');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
      await pakfire(a, 'update');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
      expect((await stat(a.hostPath(CONFIG))).mode & 0o7777).toBe(0o600);

      await pakfire(a, 'uninstall');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
      const backedUp = await inside(a, `tar -xzOf /var/ipfire/backup/addons/backup/igmpproxy.ipf etc/igmpproxy.conf`);
      expect(backedUp).toBe(USER_CONFIG.toString());
      // Everything else of ours is gone; shared directories and IPFire's own hook stay.
      for (const gone of [
        '/usr/sbin/igmpproxy',
        '/usr/lib/igmpproxy',
        '/usr/share/igmpproxy',
        '/etc/rc.d/init.d/igmpproxy',
        '/etc/rc.d/init.d/networking/red.up/15-igmpproxy',
        '/var/ipfire/backup/addons/includes/igmpproxy',
        '/etc/rc.d/rc3.d/S50igmpproxy',
        '/etc/rc.d/rc0.d/K40igmpproxy',
        '/etc/rc.d/rc6.d/K40igmpproxy',
        '/opt/pakfire/db/rootfiles/igmpproxy',
        '/opt/pakfire/db/installed/meta-igmpproxy',
        '/srv/web/ipfire/cgi-bin/igmpproxy.cgi',
        '/var/ipfire/menu.d/EX-igmpproxy.menu',
        '/var/ipfire/addon-lang/igmpproxy.en.pl',
      ]) {
        expect(await inside(a, `[ -e ${gone} ] || [ -L ${gone} ] && echo present || echo gone`), gone).toBe('gone\n');
      }
      expect(await inside(a, 'ls /etc/rc.d/init.d/networking/red.up/')).toBe('10-multicast\n');
      // Each install and uninstall rebuilt the strings cache (install, install, update = 2, uninstall).
      expect((await a.read('/var/log/update-lang-cache.runs')).toString()).toBe('run\n'.repeat(5));
      expect(await inside(a, 'ls -d /usr/sbin /usr/lib /usr/share /var/ipfire/backup/addons/includes | wc -l')).toBe(
        '4\n',
      );
    });

    it('restores the config from the add-on backup when it was deleted after uninstall', async () => {
      const a = await appliance();
      await pakfire(a, 'install');
      await a.write(CONFIG, USER_CONFIG, 0o644);
      await pakfire(a, 'uninstall');
      await inside(a, `rm ${CONFIG}`);
      await pakfire(a, 'install');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
    });

    it('prefers the config on disk over an older backup', async () => {
      const a = await appliance();
      await pakfire(a, 'install');
      await pakfire(a, 'uninstall'); // the backup now holds the default config
      await a.write(CONFIG, USER_CONFIG, 0o644);
      await pakfire(a, 'install');
      expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
    });

    describe("update from IPFire's own igmpproxy add-on (C, Release 7)", () => {
      /** The official add-on as installed: its files, its ROOTFILES (listing etc/igmpproxy.conf), its meta. */
      async function officialAddon(a: Appliance): Promise<void> {
        await a.write(
          '/usr/sbin/igmpproxy',
          '#!/bin/bash\n# STAND-IN for C igmpproxy 0.4\ntrap "exit 0" TERM\nwhile :; do sleep 1 & wait $!; done\n',
          0o755,
        );
        await a.write(CONFIG, USER_CONFIG, 0o640);
        await a.write('/var/ipfire/backup/addons/includes/igmpproxy', '/etc/igmpproxy.conf\n');
        await a.write(
          '/opt/pakfire/db/rootfiles/igmpproxy',
          'etc/igmpproxy.conf\nusr/sbin/igmpproxy\n#usr/share/man/man5/igmpproxy.conf.5\nvar/ipfire/backup/addons/includes/igmpproxy\n',
        );
        await a.write(
          '/opt/pakfire/db/installed/meta-igmpproxy',
          'Name: igmpproxy\nSummary: Multicast router utilizing IGMP forwarding\nProgVersion: 0.4\nRelease: 7\nSize: 20480\nDependencies: \nFile: igmpproxy-0.4-7.ipfire\nServices: \n',
        );
        await a.write(FIREWALL_LOCAL, FIREWALL_LOCALS[0]![1], 0o755);
      }

      it("keeps the admin's config byte for byte with its mode, stops the hand-started daemon, installs ours", async () => {
        const a = await appliance();
        await officialAddon(a);
        // Started by hand as the how-to's rc.local does; the update runs while it is up.
        const result = await a.pakfire(
          'update',
          pkg.ipfire,
          pkg.meta,
          `${WAIT_FOR_PIDFILE}\nif kill -0 "$(cat /tmp/old.pid)" 2>/dev/null; then echo OLD-ALIVE; fi\n/etc/init.d/igmpproxy status`,
          '/usr/sbin/igmpproxy /etc/igmpproxy.conf > /dev/null 2>&1 & echo $! > /tmp/old.pid; sleep 0.2',
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
        expect((await stat(a.hostPath(CONFIG))).mode & 0o7777).toBe(0o640);
        expect(result.stdout).toMatch(/Stopping igmpproxy \(pid \d+\) started outside of any initscript/);
        expect(result.stdout).not.toContain('OLD-ALIVE');
        expect(result.stdout).toMatch(/igmpproxy is running with Process ID\(s\)\s+\d+\./);
        const rootfiles = (await a.read('/opt/pakfire/db/rootfiles/igmpproxy')).toString();
        expect(rootfiles).not.toContain('etc/igmpproxy.conf');
        expect(rootfiles).toContain('usr/lib/igmpproxy/firewall\n');
        expect((await a.read('/opt/pakfire/db/installed/meta-igmpproxy')).toString()).toContain('Release: 100\n');
        expect(occurrences(await a.read(FIREWALL_LOCAL), hook)).toBe(1);
      });

      it('keeps the config even when the add-on backup cannot be made (update.sh saves it itself)', async () => {
        const a = await appliance();
        await officialAddon(a);
        // A backup directory that is not a directory: backupctrl fails, remove_files still runs.
        await inside(a, 'rmdir /var/ipfire/backup/addons/backup && touch /var/ipfire/backup/addons/backup');
        const out = await pakfire(a, 'update');
        expect(out).toContain(`Restoring ${CONFIG}.`);
        expect((await a.read(CONFIG)).equals(USER_CONFIG)).toBe(true);
        expect((await stat(a.hostPath(CONFIG))).mode & 0o7777).toBe(0o640);
      });
    });

    it('leaves a service disabled on the Services page disabled across an update; uninstall clears its link', async () => {
      const a = await appliance();
      await pakfire(a, 'install');
      // The Services page's "disable": IPFire's real addonctrl, as nobody.
      expect(await inside(a, `${AS_NOBODY} ${ADDONCTRL} igmpproxy disable`)).toBe('disabled service igmpproxy\n');
      const out = await pakfire(a, 'update', `${WAIT_FOR_PIDFILE}\n/etc/init.d/igmpproxy status`);
      expect(out).not.toContain('Starting IGMP proxy');
      expect(out).toContain('/usr/sbin/igmpproxy is not running.');
      expect(await inside(a, 'ls /etc/rc.d/rc3.d /etc/rc.d/rc3.d/off')).toBe(
        '/etc/rc.d/rc3.d:\noff\n\n/etc/rc.d/rc3.d/off:\nS50igmpproxy\n',
      );
      await pakfire(a, 'uninstall');
      expect(await inside(a, 'ls -A /etc/rc.d/rc3.d/off /etc/rc.d/rc0.d /etc/rc.d/rc6.d')).toBe(
        '/etc/rc.d/rc0.d:\n\n/etc/rc.d/rc3.d/off:\n\n/etc/rc.d/rc6.d:\n',
      );
    });

    it("opens the firewall at install when IPFire's IPTV chains exist, and closes it exactly at uninstall", async () => {
      const a = await appliance();
      const initial = await inside(
        a,
        `iptables -N IPTVINPUT && iptables -A INPUT -j IPTVINPUT &&
      iptables -N IPTVFORWARD && iptables -A FORWARD -j IPTVFORWARD && iptables -S`,
      );
      await pakfire(a, 'install');
      // The default config: red0.8 upstream, green0 downstream.
      expect(
        await inside(
          a,
          'iptables -S IGMPPROXY_IN; iptables -S IGMPPROXY_FWD; iptables -S IPTVINPUT; iptables -S IPTVFORWARD',
        ),
      ).toBe(
        [
          '-N IGMPPROXY_IN',
          '-A IGMPPROXY_IN -i red0.8 -p igmp -j ACCEPT',
          '-A IGMPPROXY_IN -d 224.0.0.0/4 -i red0.8 -j ACCEPT',
          hostShareRule('green0'),
          '-A IGMPPROXY_IN -i green0 -p igmp -j ACCEPT',
          '-N IGMPPROXY_FWD',
          '-A IGMPPROXY_FWD -d 224.0.0.0/4 -i red0.8 -o green0 -j ACCEPT',
          '-N IPTVINPUT',
          '-A IPTVINPUT -j IGMPPROXY_IN',
          '-N IPTVFORWARD',
          '-A IPTVFORWARD -j IGMPPROXY_FWD',
          '',
        ].join('\n'),
      );
      // IPFire reloads firewall.local after rule changes: still once.
      await inside(a, `${FIREWALL_LOCAL} reload; ${FIREWALL_LOCAL} reload`);
      expect(await inside(a, 'iptables -S IPTVINPUT | grep -c IGMPPROXY_IN; iptables -S IGMPPROXY_IN | wc -l')).toBe(
        '1\n5\n',
      );
      await pakfire(a, 'uninstall');
      expect(await inside(a, 'iptables -S')).toBe(initial);
    });
  },
);
