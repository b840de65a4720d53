/// <reference lib="dom" />
// The add-on's web page in IPFire's web UI: Debian's apache2 serving IPFire's vhost and Perl
// (vendored, test/fixtures/ipfire-wui/) with the page the build renders, driven by Debian's
// headless Chromium over CDP (puppeteer-core, no browser download). Screenshots go to
// .cache/test-artifacts/wui/.
import { request } from 'node:https';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../build/render.ts';
import { groupTableRows, startIpfireWui, wuiPrerequisitesMissing, type WuiServer } from '../helpers/ipfire-wui.ts';
import { checkDownstreamLimits } from '../../addon/daemon/diagnose/checks.ts';
import { formatJson } from '../../addon/daemon/diagnose/format.ts';
import { statusWith } from './status-sample.ts';

const missing = wuiPrerequisitesMissing();
if (missing) console.warn(`skipping the web page tests: ${missing}`);

const ARTIFACTS = path.join(REPO_ROOT, '.cache/test-artifacts/wui');
const PAGE = '/cgi-bin/igmpproxy.cgi';
const SETTINGS = '/var/ipfire/igmpproxy/settings';
const CONFIG = '/etc/igmpproxy.conf';
const WAIT_MS = 15_000;

/** A request as a browser sends it with the admin's credentials (any Referer it is given). */
function send(
  server: WuiServer,
  method: 'GET' | 'POST',
  body: string,
  referer: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${PAGE}`,
      {
        method,
        // A connection per request: an idle kept-alive one would hold an Apache process.
        agent: false,
        rejectUnauthorized: false,
        timeout: WAIT_MS,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          Authorization: `Basic ${Buffer.from(`${server.user}:${server.password}`).toString('base64')}`,
          Referer: referer,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The events the stand-in daemon logs (test/fixtures/appliance/igmpproxy-standin). */
const DAEMON_EVENTS = '/var/run/igmpproxy-standin.log';

/** The pid in the daemon's pidfile when it names a live process called igmpproxy, else null. */
function livePid(server: WuiServer): number | null {
  const pid = server
    .run([
      'sh',
      '-c',
      'pid=$(cat /var/run/igmpproxy.pid 2>/dev/null) && [ "$(cat /proc/$pid/comm 2>/dev/null)" = igmpproxy ] && echo "$pid"',
    ])
    .stdout.trim();
  return pid === '' ? null : Number(pid);
}

const post = (server: WuiServer, body: string, referer: string) => send(server, 'POST', body, referer);

/** The form token the page hands out to the admin. */
async function token(server: WuiServer): Promise<string> {
  const page = await send(server, 'GET', '', '');
  const match = /name='TOKEN' value='([0-9a-f]{64})'/.exec(page.text);
  if (!match) throw new Error('the page has no form token');
  return match[1]!;
}

const form = (fields: Record<string, string | string[]>): string => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) params.append(key, v);
  return params.toString();
};

describe.skipIf(missing !== undefined)("the igmpproxy page in IPFire's web UI", () => {
  let server: WuiServer;
  let browser: Browser;
  let page: Page;

  const open = async (): Promise<void> => {
    await page.goto(`${server.url}${PAGE}`, { waitUntil: 'domcontentloaded', timeout: WAIT_MS });
  };
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const text = (selector: string): Promise<string> =>
    page.$eval(selector, (element) => (element as HTMLElement).innerText);

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    server = await startIpfireWui();
    browser = await puppeteer.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--ignore-certificate-errors', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: WAIT_MS,
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.authenticate({ username: server.user, password: server.password });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  beforeEach(async () => {
    await server.remove(SETTINGS);
    await server.write('/var/log/addonctrl.calls', '', { mode: 0o666 });
  });

  it("is in the Services menu, and every entry of IPFire's own menu still renders", async () => {
    const menuLinks = () =>
      page.$$eval('#cssmenu a[href^="/cgi-bin/"]', (links) =>
        links.map((a) => `${a.getAttribute('href')} ${(a as HTMLElement).innerText.trim()}`),
      );
    // The same page without our menu file: what IPFire's menu shows alone.
    const ours = '/var/ipfire/menu.d/EX-igmpproxy.menu';
    const menuFile = await server.read(ours);
    expect(menuFile).not.toBeNull();
    await server.remove(ours);
    await open();
    const without = await menuLinks();
    await server.write(ours, menuFile!);
    await open();
    const withOurs = await menuLinks();
    await shot('menu');

    expect(without.length).toBeGreaterThan(40);
    expect(withOurs.filter((link) => !without.includes(link))).toEqual(['/cgi-bin/igmpproxy.cgi IGMP proxy (IPTV)']);
    expect(without.filter((link) => !withOurs.includes(link))).toEqual([]);
    // Every entry has its caption (an eval error in a menu file would leave none at all).
    expect(withOurs.filter((link) => / $/.test(link))).toEqual([]);
    const services = await page.$$eval('#cssmenu > ul > li', (items) =>
      items.map((li) => ({
        top: (li.querySelector(':scope > a') as HTMLElement).innerText.trim(),
        links: [...li.querySelectorAll('ul a')].map((a) => a.getAttribute('href')),
      })),
    );
    expect(services.find((item) => item.links.includes(PAGE))?.top).toBe('Services');
    expect(await page.title()).toContain('IGMP proxy (IPTV)');
  });

  it('shows the service state and the channel groups, and updates them in place', async () => {
    // A receiver may name itself anything in its DHCP request: here, markup.
    await server.write(
      '/var/state/dhcp/dhcpd.leases',
      'lease 192.168.1.100 {\n  starts 4 2026/12/03 10:00:00;\n  client-hostname "wohnzimmer-tv";\n}\n' +
        'lease 192.168.1.102 {\n  client-hostname "<img src=x onerror=document.body.dataset.wu4=1>";\n}\n',
    );
    await server.write('/var/ipfire/main/hosts', 'on,192.168.1.101,kueche,localdomain\n');
    const t0 = new Date('2026-12-04T12:00:00Z');
    await server.write(
      '/var/run/igmpproxy.status',
      JSON.stringify(
        statusWith(
          [
            { host: '192.168.1.100', group: '239.35.10.4' },
            { host: '192.168.1.101', group: '239.35.10.4' },
            { host: '192.168.1.102', group: '239.35.10.99' },
          ],
          [{ group: '239.35.10.4', source: '217.0.119.5', packets: 1000, bytes: 1_316_000 }],
          t0,
        ),
      ),
    );
    await server.startDaemonStandIn();
    try {
      await open();
      await page.evaluate(() => ((window as unknown as { wu4Marker: number }).wu4Marker = 42));
      expect(await text('#igmpproxy-service')).toMatch(/RUNNING/i);
      expect(await text('#igmpproxy-uptime')).toMatch(/^\d+d \d\d:\d\d:\d\d$/);
      const rows = await groupTableRows(page);
      expect(rows).toEqual([
        [
          '239.35.10.4',
          '217.0.119.5',
          '192.168.1.100 (wohnzimmer-tv)\n192.168.1.101 (kueche.localdomain)',
          '1000',
          '–',
        ],
        ['239.35.10.99', '', '192.168.1.102 (<img src=x onerror=document.body.dataset.wu4=1>)', '0', '–'],
      ]);
      // Each interface with its querier: the provider's upstream, this firewall on green0.
      expect(await text('#igmpproxy-upstreams')).toMatch(
        /red0\.8\s+IGMPv3\s+100\.64\.0\.1 \(IGMPv3\), query heard \d+ s ago/,
      );
      expect(await text('#igmpproxy-downstreams')).toMatch(
        /green0\s+192\.168\.1\.1\/24\s+192\.168\.1\.1 \(this firewall\)/,
      );

      // The page's first reading of the live data (the counters the rate is measured from).
      await page.waitForFunction(() => Number(document.getElementById('igmpproxy-groups')?.dataset.readings) >= 1, {
        timeout: WAIT_MS,
      });
      // A channel change: 192.168.1.100 switches to 239.35.10.8; 5 s later, new counters.
      await server.write(
        '/var/run/igmpproxy.status',
        JSON.stringify(
          statusWith(
            [
              { host: '192.168.1.100', group: '239.35.10.8' },
              { host: '192.168.1.101', group: '239.35.10.4' },
              { host: '192.168.1.102', group: '239.35.10.99' },
            ],
            [
              { group: '239.35.10.4', source: '217.0.119.5', packets: 5000, bytes: 6_316_000 },
              { group: '239.35.10.8', source: '217.0.119.9', packets: 10, bytes: 13_160 },
            ],
            new Date(t0.getTime() + 5_000),
          ),
        ),
      );
      await page.waitForFunction(
        () => document.querySelector('#igmpproxy-groups tbody')?.textContent?.includes('239.35.10.8'),
        { timeout: WAIT_MS },
      );
      const updated = await groupTableRows(page);
      // (6316000 - 1316000) bytes * 8 / 5 s = 8 Mbit/s, from two readings of the same page (the
      // document's counters: this kernel has none; test/e2e/wui-live.test.ts reads the kernel's).
      expect(updated).toEqual([
        ['239.35.10.4', '217.0.119.5', '192.168.1.101 (kueche.localdomain)', '5000', '8.00'],
        ['239.35.10.8', '217.0.119.9', '192.168.1.100 (wohnzimmer-tv)', '10', '–'],
        ['239.35.10.99', '', '192.168.1.102 (<img src=x onerror=document.body.dataset.wu4=1>)', '0', '0.00'],
      ]);
      expect(await page.evaluate(() => (window as unknown as { wu4Marker?: number }).wu4Marker)).toBe(42);
      // The self-chosen name stayed text, in the first rendering and in the live one.
      expect(await page.$('#igmpproxy-groups img')).toBeNull();
      expect(await page.evaluate(() => document.body.dataset.wu4)).toBeUndefined();
      await shot('status');
      // The live view needs no root: it never asked addonctrl (as root) for a fresh document.
      expect(await server.addonctrlCalls()).toEqual([]);
    } finally {
      await server.stopDaemonStandIn();
      await server.remove('/var/run/igmpproxy.status');
    }
  });

  it('starts, stops and reloads the service through addonctrl; a save while it runs reloads it', async () => {
    const handWritten = await server.read(CONFIG);
    const first = await server.startDaemonStandIn();
    await server.write(DAEMON_EVENTS, '');
    try {
      await open();
      const running: Array<number | null> = [];
      for (const [label, action] of [
        ['Stop', 'stop'],
        ['Start', 'start'],
        ['reload', 'reload'],
      ] as const) {
        await Promise.all([
          page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
          page.click(`#igmpproxy-service + form input[value="${label}"]`),
        ]);
        expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status')).at(-1)).toBe(
          `igmpproxy ${action}`,
        );
        running.push(livePid(server));
      }
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
        page.click('#igmpproxy-setup input[type=submit]'),
      ]);
      expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([
        'igmpproxy stop',
        'igmpproxy start',
        'igmpproxy reload',
        'igmpproxy reload',
      ]);
      // IPFire's addonctrl ran our initscript: the daemon stopped, a new one started and
      // was told to reload (SIGHUP) twice.
      expect(running[0]).toBeNull();
      expect(running[1]).not.toBeNull();
      expect(running[1]).not.toBe(first);
      expect(running[2]).toBe(running[1]);
      expect(livePid(server)).toBe(running[1]);
      expect(((await server.read(DAEMON_EVENTS)) ?? '').replaceAll('usr1\n', '')).toBe(
        `term\nstart ${CONFIG}\nhup\nhup\n`,
      );
      // The save's reload made the config from the saved settings before the SIGHUP.
      expect(await server.read(CONFIG)).toMatch(
        /^# igmpproxy-managed-by-web-ui: (.*\n){3}quickleave\nphyint red0\.8 upstream /,
      );
    } finally {
      await server.stopDaemonStandIn();
      server.run(['sh', '-c', 'rm -f /etc/igmpproxy.conf.bak-*']);
      await server.write(CONFIG, handWritten!);
    }
  });

  it('fills in upstream and stream sources when a preset is chosen', async () => {
    await open();
    await page.select('#PRESET', 'custom');
    await page.select('#UPSTREAM', 'red0');
    await page.$eval('#ALTNETS', (area) => ((area as HTMLTextAreaElement).value = '10.0.0.0/8'));
    await page.select('#PRESET', 'bng');
    expect(await page.$eval('#UPSTREAM', (select) => (select as HTMLSelectElement).value)).toBe('ppp0');
    expect(await page.$eval('#ALTNETS', (area) => (area as HTMLTextAreaElement).value)).toBe(
      '217.0.0.0/16\n193.158.35.0/24',
    );
    await page.select('#PRESET', 'legacy');
    expect(await page.$eval('#UPSTREAM', (select) => (select as HTMLSelectElement).value)).toBe('red0.8');

    // Red by DHCP (cable, fibre): custom on red0, every source; the Telekom presets are off.
    const ethernet = (await server.read('/var/ipfire/ethernet/settings'))!;
    await server.write('/var/ipfire/ethernet/settings', ethernet.replace('RED_TYPE=PPPOE', 'RED_TYPE=DHCP'), {
      owner: 'nobody',
    });
    try {
      await open();
      expect(await page.$eval('#PRESET', (select) => (select as HTMLSelectElement).value)).toBe('custom');
      expect(
        await page.$$eval('#PRESET option:disabled', (options) => options.map((o) => (o as HTMLOptionElement).value)),
      ).toEqual(['legacy', 'bng']);
      expect(
        await page.$$eval('#UPSTREAM option', (options) => options.map((o) => (o as HTMLOptionElement).value)),
      ).toEqual(['red0']);
      expect(await page.$eval('#ALTNETS', (area) => (area as HTMLTextAreaElement).value)).toBe('0.0.0.0/0');
    } finally {
      await server.write('/var/ipfire/ethernet/settings', ethernet, { owner: 'nobody' });
    }
  });

  it('refuses a bad CIDR with the field named and writes nothing', async () => {
    const before = await server.read(CONFIG);
    await open();
    await page.$eval('#ALTNETS', (area) => ((area as HTMLTextAreaElement).value = '217.0.0.0/16\n217.0.0.0/33'));
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
      page.click('#igmpproxy-setup input[type=submit]'),
    ]);
    await shot('bad-cidr');
    const error = await text('.is-error');
    expect(error).toContain('Stream sources (altnet)');
    expect(error).toContain('217.0.0.0/33');
    expect(await server.read(SETTINGS)).toBeNull();
    expect(await server.read(CONFIG)).toBe(before);
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
    // The admin's input stays in the form to be corrected.
    expect(await page.$eval('#ALTNETS', (area) => (area as HTMLTextAreaElement).value)).toBe(
      '217.0.0.0/16\n217.0.0.0/33',
    );
  });

  it("saves good settings, prefilled from IPFire's own (legacy VLAN 8 line), and asks for them to be applied", async () => {
    const handWritten = await server.read(CONFIG);
    await open();
    // IPFire's settings here: PPPoE over VDSL with IPTV on VLAN 8.
    expect(await page.$eval('#PRESET', (select) => (select as HTMLSelectElement).value)).toBe('legacy');
    expect(await page.$eval('#UPSTREAM', (select) => (select as HTMLSelectElement).value)).toBe('red0.8');
    await page.click('input[name=DOWNSTREAM][value=blue0]');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
      page.click('#igmpproxy-setup input[type=submit]'),
    ]);
    await shot('saved');
    expect(await page.$('.is-error')).toBeNull();
    const saved = (await server.read(SETTINGS))!.split('\n').filter(Boolean).sort();
    expect(saved).toEqual([
      'ALTNETS=217.0.0.0/16,193.158.35.0/24',
      'DOWNSTREAM=green0,blue0',
      'IGMPTTL=1',
      'MAXGROUPS=2048',
      'MAXGROUPSPERHOST=512',
      'MAXSOURCES=64',
      'MODE=managed',
      'PRESET=legacy',
      'QUICKLEAVE=on',
      'UPSTREAM=red0.8',
    ]);
    expect(server.run(['stat', '-c', '%U', SETTINGS]).stdout.trim()).toBe('nobody');
    // The daemon was not running: saving started it through IPFire's addonctrl, which ran
    // the initscript as root; it made the config from the settings and started the daemon.
    expect(await server.addonctrlCalls()).toContain('igmpproxy start');
    expect(livePid(server)).not.toBeNull();
    const config = await server.read(CONFIG);
    expect(config).toContain('# igmpproxy-managed-by-web-ui: made by /etc/rc.d/init.d/igmpproxy');
    expect(config).toContain(
      'phyint red0.8 upstream ratelimit 0 threshold 1\n\taltnet 217.0.0.0/16\n\taltnet 193.158.35.0/24\nphyint green0 downstream',
    );
    const check = server.run(['/usr/sbin/igmpproxy', '--check', CONFIG]);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('phyint blue0 downstream ratelimit 0 threshold 1');
    // Limits at their defaults add nothing: the file is one C igmpproxy reads, as before.
    expect(config).not.toMatch(/maxgroups|maxsources|igmpttl/);
    const backups = server.run(['sh', '-c', 'cat /etc/igmpproxy.conf.bak-*']);
    expect(backups.stdout).toBe(handWritten);
    // The next test starts from the hand-written file again, with no daemon.
    await server.stopDaemonStandIn();
    server.run(['sh', '-c', 'rm -f /etc/igmpproxy.conf.bak-*']);
    await server.write(CONFIG, handWritten!);
  });

  it('sets a limit in the advanced part: saved in the settings, written into the config, shown by the running daemon', async () => {
    const handWritten = await server.read(CONFIG);
    try {
      await open();
      // Folded away while every limit is its default, filled in with the defaults.
      expect(await page.$eval('#igmpproxy-advanced', (d) => (d as HTMLDetailsElement).open)).toBe(false);
      expect(await page.$eval('#MAXGROUPSPERHOST', (input) => (input as HTMLInputElement).value)).toBe('512');
      await page.click('#igmpproxy-advanced summary');
      await page.$eval('#MAXGROUPSPERHOST', (input) => ((input as HTMLInputElement).value = ''));
      await page.type('#MAXGROUPSPERHOST', '1000');
      await page.select('#IGMPTTL', 'any');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
        page.click('#igmpproxy-setup input[type=submit]'),
      ]);
      await shot('limits-saved');
      expect(await page.$('.is-error')).toBeNull();
      const saved = (await server.read(SETTINGS))!.split('\n');
      expect(saved).toContain('MAXGROUPSPERHOST=1000');
      expect(saved).toContain('IGMPTTL=any');
      expect(saved).toContain('MAXGROUPS=2048');
      // The save started the daemon; the initscript wrote the two changed limits, not the defaults.
      expect(await server.addonctrlCalls()).toContain('igmpproxy start');
      const config = (await server.read(CONFIG))!;
      expect(config).toMatch(/^quickleave\nmaxgroupsperhost 1000\nigmpttl any\nphyint red0\.8 upstream /m);
      expect(config).not.toMatch(/maxgroups |maxsources/);
      const check = server.run(['/usr/sbin/igmpproxy', '--check', CONFIG]);
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
      // The form shows the saved limits, unfolded as they are no longer all defaults.
      expect(await page.$eval('#igmpproxy-advanced', (d) => (d as HTMLDetailsElement).open)).toBe(true);
      expect(await page.$eval('#MAXGROUPSPERHOST', (input) => (input as HTMLInputElement).value)).toBe('1000');
      expect(await page.$eval('#IGMPTTL', (select) => (select as HTMLSelectElement).value)).toBe('any');

      // The status part shows what the running daemon applies and what each downstream
      // ignored: a document of the real core (status-sample.ts) given this config's limits and
      // refusals (the stand-in daemon writes none).
      const parsed = statusWith([{ host: '192.168.1.10', group: '239.1.1.1' }], [], new Date());
      const green = parsed.proxy.downstreams[0]!;
      const document = {
        ...parsed,
        proxy: {
          ...parsed.proxy,
          limits: { ...parsed.proxy.limits, groupsPerHost: 1000, requireTtlOne: false },
          downstreams: [
            { ...green, refused: { ...green.refused, groupsPerHost: 4, ttl: 1, lastHost: '192.168.1.66', lastAt: 1 } },
          ],
        },
      };
      await server.write('/var/run/igmpproxy.status', JSON.stringify(document));
      await open();
      expect(await text('#igmpproxy-limits')).toBe(
        'Limits the proxy applies: 2048 channel groups per interface, 1000 per receiver, 64 sources per group; ' +
          'IGMP from receivers with any IP TTL (for receivers that send it wrong).',
      );
      expect(await text('#igmpproxy-downstreams')).toMatch(
        /green0\s.*\(this firewall\)\s+5 \(latest from 192\.168\.1\.66\)/,
      );
      await shot('limits-status');
    } finally {
      await server.stopDaemonStandIn();
      await server.remove('/var/run/igmpproxy.status');
      server.run(['sh', '-c', 'rm -f /etc/igmpproxy.conf.bak-*']);
      await server.write(CONFIG, handWritten!);
    }
  });

  it('refuses a bad limit with the field named; the settings and the config stay byte for byte', async () => {
    const handWritten = await server.read(CONFIG);
    // Settings the page saved before (with a limit), and the config made from them.
    const before =
      'MODE=managed\nPRESET=legacy\nUPSTREAM=red0.8\nDOWNSTREAM=green0\nALTNETS=217.0.0.0/16\nQUICKLEAVE=on\nMAXGROUPS=4096\nMAXGROUPSPERHOST=512\nMAXSOURCES=64\nIGMPTTL=1\n';
    await server.write(SETTINGS, before, { owner: 'nobody' });
    try {
      await open();
      expect(await page.$eval('#igmpproxy-advanced', (d) => (d as HTMLDetailsElement).open)).toBe(true);
      expect(await page.$eval('#MAXGROUPS', (input) => (input as HTMLInputElement).value)).toBe('4096');
      await page.$eval('#MAXSOURCES', (input) => ((input as HTMLInputElement).value = '1025'));
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
        page.click('#igmpproxy-setup input[type=submit]'),
      ]);
      await shot('bad-limit');
      expect(await text('.is-error')).toContain(
        'Sources per channel group (maxsources): not a whole number from 1 to 1024',
      );
      expect(await server.read(SETTINGS)).toBe(before);
      expect(await server.read(CONFIG)).toBe(handWritten);
      expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
      // The admin's input stays to be corrected, in the unfolded advanced part.
      expect(await page.$eval('#igmpproxy-advanced', (d) => (d as HTMLDetailsElement).open)).toBe(true);
      expect(await page.$eval('#MAXSOURCES', (input) => (input as HTMLInputElement).value)).toBe('1025');
    } finally {
      await server.remove(SETTINGS);
    }
  });

  it.each([
    ['MAXGROUPS', '0', 'Channel groups per downstream interface (maxgroups): not a whole number from 1 to 65536'],
    ['MAXGROUPS', '65537', 'Channel groups per downstream interface (maxgroups): not a whole number from 1 to 65536'],
    ['MAXGROUPSPERHOST', '0512', 'Channel groups per receiver (maxgroupsperhost): not a whole number from 1 to 65536'],
    ['MAXGROUPSPERHOST', '12abc', 'Channel groups per receiver (maxgroupsperhost): not a whole number from 1 to 65536'],
    ['MAXGROUPSPERHOST', '-1', 'Channel groups per receiver (maxgroupsperhost): not a whole number from 1 to 65536'],
    // (IPFire's getcgihash trims blanks around a value: "64 " is 64.)
    ['MAXSOURCES', '6 4', 'Sources per channel group (maxsources): not a whole number from 1 to 1024'],
    ['MAXSOURCES', '64\nigmpttl any', 'Sources per channel group (maxsources): not a whole number from 1 to 1024'],
    ['IGMPTTL', '64', 'IGMP from receivers (igmpttl): not one of the offered choices'],
  ])('refuses the limit %s=%j with the field named and writes nothing', async (field, value, message) => {
    const fields = {
      ACTION: 'Save',
      TOKEN: await token(server),
      PRESET: 'custom',
      UPSTREAM: 'red0',
      DOWNSTREAM: ['green0'],
      ALTNETS: '10.0.0.0/8',
      QUICKLEAVE: 'on',
      [field]: value,
    };
    const answer = await post(server, form(fields), `${server.url}/`);
    expect(answer.text).toContain(`<li>${message}</li>`);
    expect(await server.read(SETTINGS)).toBeNull();
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
  });

  it('changes nothing on a POST from another site (foreign Referer), but does on the same site', async () => {
    // Even with a valid token (which another site cannot have), the foreign Referer alone stops it.
    const valid = await token(server);
    const body = form({
      ACTION: 'Save',
      TOKEN: valid,
      PRESET: 'bng',
      UPSTREAM: 'ppp0',
      DOWNSTREAM: 'green0',
      ALTNETS: '217.0.0.0/16',
      QUICKLEAVE: 'on',
    });
    const foreign = await post(server, body, 'https://evil.example/iptv.html');
    expect(foreign.status).toBe(200);
    expect(await server.read(SETTINGS)).toBeNull();
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
    const stop = await post(server, form({ ACTION: 'Stop', TOKEN: valid }), 'https://evil.example/');
    expect(stop.status).toBe(200);
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);

    const same = await post(server, body, `${server.url}/`);
    expect(same.status).toBe(200);
    expect(await server.read(SETTINGS)).toContain('UPSTREAM=ppp0');
  });

  it("changes nothing on a same-site POST without the page's form token", async () => {
    const fields = {
      ACTION: 'Save',
      PRESET: 'bng',
      UPSTREAM: 'ppp0',
      DOWNSTREAM: 'green0',
      ALTNETS: '217.0.0.0/16',
      QUICKLEAVE: 'on',
    };
    for (const forged of [undefined, '0'.repeat(64), `${await token(server)}0`]) {
      const answer = await post(
        server,
        form(forged === undefined ? fields : { ...fields, TOKEN: forged }),
        `${server.url}/`,
      );
      expect(answer.text).toContain('The form was out of date or did not come from this page; nothing was changed.');
      expect(await server.read(SETTINGS)).toBeNull();
      const stop = await post(
        server,
        form(forged === undefined ? { ACTION: 'Stop' } : { ACTION: 'Stop', TOKEN: forged }),
        `${server.url}/`,
      );
      expect(stop.status).toBe(200);
    }
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
    // The key behind the tokens is the page's own: nobody's, unreadable to others.
    expect(server.run(['stat', '-c', '%a %U', '/var/ipfire/igmpproxy/form-key']).stdout.trim()).toBe('600 nobody');
  });

  it.each([
    [
      'an unknown upstream interface',
      { UPSTREAM: 'eth9' },
      'Upstream (from the provider): not an interface this firewall offers here: eth9',
    ],
    ['no upstream', { UPSTREAM: '' }, 'Upstream (from the provider): no interface chosen'],
    [
      'an unknown downstream interface',
      { DOWNSTREAM: ['green0', 'orange0'] },
      'Downstream (TV receivers): not an interface this firewall offers here: orange0',
    ],
    ['no downstream', { DOWNSTREAM: [] }, 'Downstream (TV receivers): choose at least one interface'],
    [
      'the upstream as a downstream',
      { UPSTREAM: 'red0', DOWNSTREAM: ['green0', 'red0'] },
      'Downstream (TV receivers): not an interface this firewall offers here: red0',
    ],
    ['an unknown preset', { PRESET: 'magenta' }, 'Preset: not one of the offered choices'],
  ])('refuses %s with the field named and writes nothing', async (_what, change, message) => {
    const fields = {
      ACTION: 'Save',
      TOKEN: await token(server),
      PRESET: 'custom',
      UPSTREAM: 'red0',
      DOWNSTREAM: ['green0'],
      ALTNETS: '10.0.0.0/8',
      QUICKLEAVE: 'on',
      ...change,
    };
    const answer = await post(server, form(fields), `${server.url}/`);
    expect(answer.text).toContain(`<li>${message}</li>`);
    expect(await server.read(SETTINGS)).toBeNull();
    expect((await server.addonctrlCalls()).filter((call) => !call.endsWith(' status'))).toEqual([]);
  });

  it('refuses hostile values and shows them harmlessly', async () => {
    const hostile = `<script>document.body.dataset.wu4='pwned'</script>'"$(reboot)\n${'x'.repeat(5000)}`;
    for (const field of [
      'PRESET',
      'UPSTREAM',
      'DOWNSTREAM',
      'ALTNETS',
      'QUICKLEAVE',
      'MAXGROUPS',
      'MAXGROUPSPERHOST',
      'MAXSOURCES',
      'IGMPTTL',
    ]) {
      const fields: Record<string, string> = {
        ACTION: 'Save',
        TOKEN: await token(server),
        PRESET: 'custom',
        UPSTREAM: 'red0',
        DOWNSTREAM: 'green0',
        ALTNETS: '10.0.0.0/8',
        QUICKLEAVE: 'on',
      };
      fields[field] = hostile;
      const answer = await post(server, form(fields), `${server.url}/`);
      expect(answer.status, field).toBe(200);
      expect(answer.text, field).toContain('class="section is-box is-error"');
      expect(answer.text, field).not.toContain('<script>document');
      expect(await server.read(SETTINGS), field).toBeNull();
    }
    // The same through the browser: the refusal is shown, nothing runs.
    await open();
    await page.$eval('#ALTNETS', (area, value) => ((area as HTMLTextAreaElement).value = value), hostile);
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
      page.click('#igmpproxy-setup input[type=submit]'),
    ]);
    expect(await text('.is-error')).toContain('<script>');
    expect(await page.evaluate(() => document.body.dataset.wu4)).toBeUndefined();
    expect(await server.read(SETTINGS)).toBeNull();
    await shot('hostile');
    // A limit field: refused by name, and the value comes back as the field's text only.
    await page.$eval('#MAXGROUPS', (input, value) => ((input as HTMLInputElement).value = value), hostile);
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: WAIT_MS }),
      page.click('#igmpproxy-setup input[type=submit]'),
    ]);
    expect(await text('.is-error')).toContain('Channel groups per downstream interface (maxgroups)');
    expect(await page.$eval('#MAXGROUPS', (input) => (input as HTMLInputElement).value)).toBe(
      hostile.replace('\n', ''),
    );
    expect(await page.$('#igmpproxy-advanced script')).toBeNull();
    expect(await page.evaluate(() => document.body.dataset.wu4)).toBeUndefined();
    expect(await server.read(SETTINGS)).toBeNull();
  });

  it('shows a hand-written configuration read-only, escaped', async () => {
    const handWritten = '# my own <b>file</b>\nphyint ppp0 upstream\n  altnet 217.0.0.0/16\nphyint green0 downstream\n';
    const before = await server.read(CONFIG);
    await server.write(CONFIG, handWritten);
    try {
      await open();
      expect(await text('#igmpproxy-hand-written')).toContain('/etc/igmpproxy.conf was written by hand');
      expect(await page.$eval('#igmpproxy-config', (pre) => pre.textContent)).toBe(handWritten);
      expect(await page.$('#igmpproxy-config b')).toBeNull();
      await shot('hand-written');
    } finally {
      if (before === null) await server.remove(CONFIG);
      else await server.write(CONFIG, before);
    }
  });

  it('shows the diagnose verdicts when the daemon has them, and nothing when it has not', async () => {
    await open();
    expect(await page.$('#igmpproxy-diagnosis')).toBeNull();
    const diagnosis = {
      schema: 1,
      checks: [
        { id: 'running', ok: true, message: 'the daemon runs', fix: '' },
        {
          id: 'rp_filter',
          ok: false,
          message: 'rp_filter on red0.8 drops the streams',
          fix: 'sysctl -w net.ipv4.conf.red0/8.rp_filter=2',
        },
      ],
      groups: [],
    };
    await server.write('/var/lib/igmpproxy-test/diagnose.json', JSON.stringify(diagnosis));
    try {
      await open();
      const verdicts = await text('#igmpproxy-diagnosis');
      expect(verdicts).toContain('rp_filter on red0.8 drops the streams');
      expect(verdicts).toContain('sysctl -w net.ipv4.conf.red0/8.rp_filter=2');
      await shot('diagnosis');
    } finally {
      await server.remove('/var/lib/igmpproxy-test/diagnose.json');
    }
  });

  it("shows diagnose's downstream-limits verdict as the daemon words it, escaped", async () => {
    // The check as diagnose makes it from a status document (the real core) whose downstream
    // refused IGMP; the interface name carries markup (Linux allows it in a name).
    const document = statusWith([{ host: '192.168.1.10', group: '239.1.1.1' }], [], new Date());
    const green = document.proxy.downstreams[0]!;
    const down = {
      ...green,
      name: 'gr<b>en0',
      refused: {
        ...green.refused,
        groupsPerHost: 4,
        ttl: 1,
        lastHost: '192.168.1.66',
        lastAt: document.proxy.now - 7_000,
      },
    };
    const config = {
      path: '/etc/igmpproxy.conf',
      writtenByWebPage: true,
      loaded: { ok: false as const, errors: [] },
      modifiedAtMs: undefined,
    };
    const check = checkDownstreamLimits(config, document, down);
    expect(check.ok).toBe(false);
    await server.write('/var/lib/igmpproxy-test/diagnose.json', formatJson({ checks: [check], groups: [] }));
    try {
      await open();
      const verdicts = await text('#igmpproxy-diagnosis');
      expect(verdicts).toContain(
        'gr<b>en0 ignored IGMP since it came up: 4 joins beyond maxgroupsperhost 512, 1 IGMP with IP TTL not 1; the latest from 192.168.1.66, 7 s ago',
      );
      // The page manages this config: the fix names the page's field, not the file.
      expect(verdicts).toContain(
        'set "maxgroupsperhost" above 512 in the web page\'s setup (Services > IGMP proxy (IPTV), Setup, Advanced) and save',
      );
      expect(verdicts).not.toContain('/etc/igmpproxy.conf');
      expect(await page.$('#igmpproxy-diagnosis b')).toBeNull();
      await shot('diagnosis-limits');
    } finally {
      await server.remove('/var/lib/igmpproxy-test/diagnose.json');
    }
  });

  it('speaks German when IPFire is set to German', async () => {
    const settings = (await server.read('/var/ipfire/main/settings'))!;
    await server.write('/var/ipfire/main/settings', settings.replace('LANGUAGE=en', 'LANGUAGE=de'), {
      owner: 'nobody',
    });
    try {
      await open();
      await shot('german');
      expect(await page.title()).toContain('IGMP-Proxy (IPTV)');
      expect(await text('#igmpproxy-setup')).toContain('Stream-Quellen (altnet)');
      expect(await text('#igmpproxy-advanced summary')).toBe('Erweitert: Grenzen für die TV-Empfänger');
      expect(await page.$eval(`#cssmenu a[href="${PAGE}"]`, (a) => (a as HTMLElement).innerText.trim())).toBe(
        'IGMP-Proxy (IPTV)',
      );
      expect(
        await page.$eval('#igmpproxy-setup input[type=submit]', (input) => (input as HTMLInputElement).value),
      ).toBe('Speichern');
    } finally {
      await server.write('/var/ipfire/main/settings', settings, { owner: 'nobody' });
    }
  });
});
