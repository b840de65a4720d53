// IPFire's real addonctrl (test/helpers/addonctrl.ts: src/misc-progs/addonctrl.c compiled
// unchanged, setuid root, group nobody) against the installed package, run as nobody as the
// web UI runs it. It finds our initscript only through the `Services:` line of the meta file
// Pakfire recorded (/opt/pakfire/db/installed/meta-igmpproxy, the one build/package.ts
// writes), so these runs check that line too. The daemon is the package tests' stand-in for
// running (test/fixtures/appliance/igmpproxy-standin: logs start, signals and term).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackageFiles } from '../../build/package.ts';
import { NetnsLab } from '../../scripts/lab/netns.ts';
import { ADDONCTRL } from '../helpers/addonctrl.ts';
import { AS_NOBODY, Appliance, buildStandinPackage } from './appliance.ts';
import { applianceSupport, PREFIX } from './support.ts';

const support = applianceSupport();
const CONFIG = '/etc/igmpproxy.conf';
const EVENTS = '/var/run/igmpproxy-standin.log';
const addonctrl = (action: string): string => `${AS_NOBODY} ${ADDONCTRL} igmpproxy ${action}`;
/** The pid in the pidfile when it names a live process called igmpproxy, else "none". */
const LIVE_PID =
  'pid=$(cat /var/run/igmpproxy.pid 2>/dev/null); if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = igmpproxy ]; then echo "$pid"; else echo none; fi';

describe.skipIf(!support.available)(
  `IPFire's addonctrl runs the installed initscript ${support.reason}`,
  { timeout: 180_000 },
  () => {
    const lab = new NetnsLab(PREFIX);
    let work = '';
    let pkg: PackageFiles;
    let a: Appliance;

    beforeAll(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-addonctrl-'));
      pkg = await buildStandinPackage(work);
      const ns = await lab.createNamespace('actl');
      await ns.ip('link', 'add', 'ipp6au0', 'type', 'veth', 'peer', 'name', 'ipp6au1');
      await ns.ip('link', 'add', 'ipp6ad0', 'type', 'veth', 'peer', 'name', 'ipp6ad1');
      a = await Appliance.create(ns);
      const installed = await a.pakfire('install', pkg.ipfire, pkg.meta);
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);
      await a.write(CONFIG, 'phyint ipp6au0 upstream\nphyint ipp6ad0 downstream\n');
    });

    afterAll(async () => {
      await a?.dispose();
      await lab.cleanup();
      if (work) await rm(work, { recursive: true, force: true });
    });

    async function inside(script: string): Promise<string> {
      const result = await a.run(script);
      expect(result.code, `${script}\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    }

    it('reads the service from the meta file Pakfire recorded, and runs as root for nobody', async () => {
      expect(await inside(addonctrl('list-services'))).toBe('\nServices for addon igmpproxy:\n  igmpproxy\n\n');
      expect(await inside(addonctrl('boot-status'))).toBe('igmpproxy is enabled on boot.\n');
      expect(await inside(`stat -c '%a %U %G' ${ADDONCTRL}`)).toBe('4750 root nobody\n');
      // Without our meta file IPFire's addonctrl knows no such add-on.
      const result = await a.run(
        `mv /opt/pakfire/db/installed/meta-igmpproxy /root/ && ${addonctrl('status')}; rc=$?; mv /root/meta-igmpproxy /opt/pakfire/db/installed/; exit $rc`,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Addon 'igmpproxy' not found.");
    });

    it("stop, start, reload and status through addonctrl stop and start the daemon and remake the config from the page's settings", async () => {
      const out = await inside(`
set -e
${addonctrl('stop')} > /dev/null
echo "after-stop=$(${LIVE_PID})"
: > ${EVENTS}
${addonctrl('start')} > /dev/null
echo "after-start=$(${LIVE_PID})"
printf 'MODE=managed\\nUPSTREAM=ipp6au0\\nDOWNSTREAM=ipp6ad0\\nALTNETS=217.0.0.0/16\\nQUICKLEAVE=on\\n' > /var/ipfire/igmpproxy/settings
${addonctrl('reload')} > /root/reload.out 2>&1
echo "after-reload=$(${LIVE_PID})"
${addonctrl('status')} | head -n 1 | sed 's/\\x1b\\[[0-9;]*m//g'
sleep 0.3
${addonctrl('stop')} > /dev/null
echo "after-second-stop=$(${LIVE_PID})"
echo "--- events"; cat ${EVENTS}
echo "--- config"; cat ${CONFIG}
echo "--- reload"; cat /root/reload.out
`);
      const value = (key: string): string => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1] ?? '';
      expect(value('after-stop')).toBe('none');
      expect(value('after-start')).toMatch(/^\d+$/);
      expect(value('after-reload')).toBe(value('after-start'));
      expect(out).toContain(`igmpproxy is running with Process ID(s)  ${value('after-start')}.`);
      expect(value('after-second-stop')).toBe('none');
      expect(out.split('--- events\n')[1]!.split('--- config\n')[0], out).toBe(`start ${CONFIG}\nhup\nusr1\nterm\n`);
      expect(out.split('--- config\n')[1]!.split('--- reload\n')[0]).toContain(
        'quickleave\nphyint ipp6au0 upstream ratelimit 0 threshold 1\n\taltnet 217.0.0.0/16\nphyint ipp6ad0 downstream ratelimit 0 threshold 1\n',
      );
    });
  },
);
