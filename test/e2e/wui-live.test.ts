/// <reference lib="dom" />
// The web page's live view of a real daemon: in the IPTV lab (scripts/lab/iptv-lab.ts) our
// daemon from source proxies for a TV; Apache serves the page with IPFire's Perl
// (test/helpers/ipfire-wui.ts) in the daemon's network namespace, so the page reads that
// namespace's /proc/net/ip_mr_cache, and the appliance's pidfile and status file are the
// daemon's. Debian's Chromium (puppeteer-core) runs in the same namespace. The TV joins
// channel A: the table shows A with the TV's address; the TV zaps to B: without a reload the
// table shows B and no longer A, and its packets and Mbit/s rise. The page never asks for
// root (no addonctrl call, no SIGUSR1): the daemon rewrote its document on its own.
// Screenshots go to .cache/test-artifacts/wui/. Needs multicast routing (the test VM).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../build/render.ts';
import { checkNetnsSupport } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { IptvLab, labNode, repositoryRoot, tvAddress } from '../../scripts/lab/iptv-lab.ts';
import type { ProxyHandle } from '../../scripts/lab/iptv-lab.ts';
import { groupTableRows, startIpfireWui, wuiPrerequisitesMissing, type WuiServer } from '../helpers/ipfire-wui.ts';

const PREFIX = 'wl';
const CHANNEL_A = '239.77.5.1';
const CHANNEL_B = '239.77.5.2';
const PAGE = '/cgi-bin/igmpproxy.cgi';
// In the test VM, the share that scripts/test.ts copies back to .cache/test-artifacts/.
const ARTIFACTS = path.join(
  process.env.IGMPPROXY_TEST_ARTIFACTS ?? path.join(REPO_ROOT, '.cache/test-artifacts'),
  'wui',
);
const MAIN = path.join(repositoryRoot, 'addon', 'daemon', 'main.ts');

const support = checkNetnsSupport(PREFIX);
const missing = support.available ? wuiPrerequisitesMissing() : support.reason;
if (missing) console.warn(`the web page's live view test is skipped: ${missing}`);

type Rows = string[][];

describe.skipIf(missing !== undefined)("the web page shows a real daemon's channels live", () => {
  let lab: IptvLab;
  let proxy: ProxyHandle;
  let server: WuiServer;
  let browser: Browser;
  let page: Page;
  let dir = '';

  const rows = (): Promise<Rows> => groupTableRows(page);
  const readings = (): Promise<number> =>
    page.$eval('#igmpproxy-groups', (table) => Number((table as HTMLElement).dataset.readings ?? 0));
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  /** Waits (bounded) until the table's rows satisfy `accept`; the last rows on failure. */
  async function waitForRows(accept: (rows: Rows) => boolean, what: string, timeoutMs = scaled(30_000)): Promise<Rows> {
    const deadline = Date.now() + timeoutMs;
    let last: Rows = [];
    for (let attempt = 0; attempt < 10_000; attempt++) {
      last = await rows();
      if (accept(last)) return last;
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `the page's table never showed ${what} within ${timeoutMs} ms; it shows ${JSON.stringify(last)}\nproxy log:\n${proxy.tail(30)}`,
    );
  }

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    lab = await IptvLab.create({ prefix: PREFIX, tvClients: 1, queryIntervalMs: 5_000 });
    dir = await mkdtemp(path.join(tmpdir(), `${PREFIX}-wui-live-`));
    // The page runs as nobody and reads the daemon's files here, as it would in /var/run.
    await chmod(dir, 0o755);
    const pidfile = path.join(dir, 'igmpproxy.pid');
    const statusFile = path.join(dir, 'igmpproxy.status');
    proxy = await lab.startProxy({
      command: [...labNode, MAIN, '-d', '-v', '--pidfile', pidfile, '--status-file', statusFile],
      config: lab.proxyConfig(),
    });
    await proxy.waitForLog(/ started$/, scaled(10_000));

    server = await startIpfireWui({}, { netns: lab.proxyNamespace.name, pidfile, statusFile });
    // Chromium in the router's namespace too (Apache listens on its 127.0.0.1); CDP over a pipe.
    const chromium = path.join(dir, 'chromium-in-namespace');
    await writeFile(chromium, `#!/bin/sh\nexec ip netns exec ${lab.proxyNamespace.name} /usr/bin/chromium "$@"\n`, {
      mode: 0o755,
    });
    browser = await puppeteer.launch({
      executablePath: chromium,
      pipe: true,
      headless: true,
      args: ['--no-sandbox', '--ignore-certificate-errors', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: scaled(30_000),
      protocolTimeout: scaled(60_000),
    });
    page = await browser.newPage();
    page.setDefaultTimeout(scaled(30_000));
    await page.setViewport({ width: 1200, height: 900 });
    await page.authenticate({ username: server.user, password: server.password });
  }, scaled(180_000));

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await proxy?.stop();
    await lab?.dispose();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, scaled(60_000));

  test(
    'a TV joins channel A, then zaps to B: the table follows without a reload, packets and Mbit/s rise',
    async () => {
      const tv = tvAddress(0);
      await lab.tv(0).join(CHANNEL_A);
      await lab.tv(0).waitFirstPacket(CHANNEL_A, scaled(10_000));

      await page.goto(`${server.url}${PAGE}`, { waitUntil: 'domcontentloaded', timeout: scaled(60_000) });
      await page.evaluate(() => ((window as unknown as { wlMarker: number }).wlMarker = 7));
      expect(await page.$eval('#igmpproxy-service', (table) => (table as HTMLElement).innerText)).toMatch(/RUNNING/i);
      // The lab's provider asks upstream; this firewall is querier on the TV's bridge.
      expect(await page.$eval('#igmpproxy-upstreams', (table) => (table as HTMLElement).innerText)).toContain(
        `${lab.interfaces.upstream}\tIGMPv3\t10.99.0.1 (IGMPv3)`,
      );
      expect(await page.$eval('#igmpproxy-downstreams', (table) => (table as HTMLElement).innerText)).toContain(
        '192.168.99.1 (this firewall)',
      );
      const onA = await waitForRows(
        (r) => r.length === 1 && r[0]![0] === CHANNEL_A && r[0]![2] === tv,
        `${CHANNEL_A} watched by ${tv}`,
      );
      expect(onA[0]![1]).toBe('10.99.0.1');
      await shot('live-channel-a');

      const zappedAtReading = await readings();
      await lab.tv(0).zap(CHANNEL_A, CHANNEL_B);
      await lab.tv(0).waitFirstPacket(CHANNEL_B, scaled(10_000));
      const onB = await waitForRows(
        (r) => r.length === 1 && r[0]![0] === CHANNEL_B && r[0]![2] === tv,
        `only ${CHANNEL_B}, watched by ${tv}`,
      );
      expect(onB.flat()).not.toContain(CHANNEL_A);
      // The same page (no reload), updated by its own readings.
      expect(await page.evaluate(() => (window as unknown as { wlMarker?: number }).wlMarker)).toBe(7);
      expect(await readings()).toBeGreaterThan(zappedAtReading);

      // Two later readings: the kernel's counters of B grow, and the rate between them is > 0.
      const first = Number(onB[0]![3]);
      const flowing = await waitForRows(
        (r) => r[0]?.[0] === CHANNEL_B && Number(r[0][3]) > first && Number(r[0][4]) > 0,
        `${CHANNEL_B} with more than ${first} packets and a rate`,
      );
      expect(flowing[0]![4]).toMatch(/^\d+\.\d\d$/);
      await shot('live-channel-b');

      // Nothing ran as root for it: no addonctrl call, and the daemon logged no SIGUSR1 summary.
      expect(await server.addonctrlCalls()).toEqual([]);
      expect(proxy.log.filter((line) => /upstream \S+ \(.*\): \d+ groups joined/.test(line))).toEqual([]);
      expect(await server.errorLog()).not.toMatch(/igmpproxy\.cgi.*(error|warn)/i);
    },
    scaled(120_000),
  );
});
