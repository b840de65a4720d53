// IPFire's web UI on this machine, for browser tests of the add-on's page.
//
// Debian's apache2 serves IPFire's vhost (test/fixtures/ipfire-wui/config/httpd/...: TLS, CGI,
// HTTP Basic auth "Require user admin", IPFire's security headers) with the CGIs running as
// nobody. IPFire's Perl (header.pl, general-functions.pl, lang.pl, ...), its language and menu
// files are the vendored originals (test/fixtures/ipfire-wui/README.md); they name absolute
// paths (/var/ipfire, /srv/web/ipfire), so Apache runs in a private mount namespace where
// /etc, /var, /srv, /opt, /usr and /run are overlays: every write lands in this test's own
// directory and the machine's files stay untouched. The add-on's web files are rendered by
// the build (build/render.ts) into that root. The page starts, stops and reloads the service
// through IPFire's real addonctrl (test/helpers/addonctrl.ts, setuid root as on the box),
// which finds our initscript through the package's meta file (build/package.ts metaFile) and
// runs it with IPFire's real rc functions. Stand-ins, for what only an appliance has: the
// daemon's running part (the package tests' test/fixtures/appliance/igmpproxy-standin: a
// process named igmpproxy that logs its signals; its status document and diagnose output are
// files the test writes; --check and --list-interfaces are the real daemon's), a probe in
// /etc/sysconfig/rc that records which initscript actions addonctrl ran, the other pages of
// the menu (empty files). Apache and what addonctrl starts share the machine's network
// namespace: the initscript touches only interfaces and IPTV chains named in the test's
// configuration (red0.8, green0, IPTVINPUT), which this machine does not have.
// With `live`, the page serves a real daemon instead: Apache runs in the daemon's network
// namespace (the page reads that namespace's /proc/net/ip_mr_cache) and the appliance's
// pidfile and status file are links to the daemon's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { metaFile } from '../../build/package.ts';
import { readPackageInfo, renderScripts, REPO_ROOT } from '../../build/render.ts';
import { ADDONCTRL, addonctrlPrerequisiteMissing, buildAddonctrl } from './addonctrl.ts';
import { APPLIANCE_REAL_DAEMON_DIR, realDaemonShellCommand } from './real-daemon.ts';
import type { Page } from 'puppeteer-core';

export const WUI_FIXTURES = path.join(REPO_ROOT, 'test/fixtures/ipfire-wui');
const OVERLAID = ['etc', 'var', 'srv', 'opt', 'usr', 'run'] as const;
const MODULES = '/usr/lib/apache2/modules';
const START_TIMEOUT_MS = 20_000;

/** Debian packages the harness needs (scripts/dev.sh installs them for the tests). */
export function wuiPrerequisitesMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount namespace, overlays)';
  for (const program of ['/usr/sbin/apache2', '/usr/bin/chromium', '/usr/bin/htpasswd', '/usr/bin/openssl']) {
    if (spawnSync('test', ['-x', program]).status !== 0)
      return `${program} is missing (bash scripts/dev.sh test installs it)`;
  }
  const addonctrl = addonctrlPrerequisiteMissing();
  if (addonctrl !== undefined) return addonctrl;
  for (const module of ['CGI', 'HTML::Entities', 'RRDs', 'Net::IPv4Addr']) {
    if (spawnSync('perl', [`-M${module}`, '-e1']).status !== 0) return `Perl module ${module} is missing`;
  }
  return undefined;
}

export interface IpfireSettings {
  /** /var/ipfire/main/settings LANGUAGE. */
  readonly language?: string;
  /** /var/ipfire/ethernet/settings and ppp/settings, as KEY=value lines. */
  readonly ethernet?: string;
  readonly ppp?: string;
}

/** A real daemon for the page to show (see the file's head). */
export interface LiveDaemon {
  /** The network namespace the daemon runs in (ip netns name): Apache runs there too. */
  readonly netns: string;
  readonly pidfile: string;
  readonly statusFile: string;
}

export interface WuiServer {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** The test's directory (holds the overlays' upper layers). */
  readonly dir: string;
  /** Reads a file as the page sees it; null when absent. */
  read(file: string): Promise<string | null>;
  write(file: string, content: string, options?: { mode?: number; owner?: string }): Promise<void>;
  remove(file: string): Promise<void>;
  /** Runs a command inside the namespace as root. */
  run(argv: readonly string[]): { status: number | null; stdout: string; stderr: string };
  /** The initscript actions IPFire's addonctrl ran so far, as "igmpproxy ACTION" lines. */
  addonctrlCalls(): Promise<string[]>;
  /**
   * Starts/stops the daemon as root with the initscript (start/stop), as the box's boot
   * does: the stand-in daemon, a process named igmpproxy whose pid is in /var/run/igmpproxy.pid.
   */
  startDaemonStandIn(): Promise<number>;
  stopDaemonStandIn(): Promise<void>;
  /** Apache's error log (CGI errors land here). */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Whether Apache answers on 127.0.0.1:port of the namespace `netns`. */
function listeningIn(netns: string, port: number): boolean {
  const probe = spawnSync('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], {
    timeout: 5_000,
  });
  return probe.status === 0;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function put(root: string, file: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const target = path.join(root, file);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, content, { mode });
}

/** IPFire's build replaces these words when it installs its Perl files (lfs/configroot). */
function installedPerl(text: string): string {
  return text.replaceAll('CONFIG_ROOT', '/var/ipfire').replaceAll("'VERSION'", "'2.29'");
}

const DEFAULT_ETHERNET =
  'CONFIG_TYPE=3\nRED_TYPE=PPPOE\nRED_DEV=red0\nGREEN_DEV=green0\nGREEN_ADDRESS=192.168.1.1\nGREEN_NETMASK=255.255.255.0\nBLUE_DEV=blue0\nBLUE_ADDRESS=192.168.2.1\nBLUE_NETMASK=255.255.255.0\n';
const DEFAULT_PPP = 'TYPE=vdsl\nIPTV=enable\nINET_VLAN=7\nIPTV_VLAN=8\n';

/** The appliance root as the upper layers of the overlays. */
async function stageRoot(
  upper: string,
  settings: IpfireSettings,
  port: number,
  live: LiveDaemon | undefined,
): Promise<void> {
  const cfgroot = path.join(WUI_FIXTURES, 'config/cfgroot');
  for (const file of await readdir(cfgroot)) {
    await put(upper, `var/ipfire/${file}`, installedPerl(await readFile(path.join(cfgroot, file), 'utf8')));
  }
  for (const lang of ['en', 'de']) {
    await put(
      upper,
      `var/ipfire/langs/${lang}.pl`,
      await readFile(path.join(WUI_FIXTURES, `langs/${lang}/cgi-bin/${lang}.pl`)),
    );
  }
  await put(upper, 'var/ipfire/langs/list', await readFile(path.join(WUI_FIXTURES, 'langs/list')));
  // The core menu; other add-ons' EX-*.menu files come with those add-ons, not with IPFire.
  for (const file of (await readdir(path.join(WUI_FIXTURES, 'config/menu'))).filter(
    (name) => !name.startsWith('EX-'),
  )) {
    await put(upper, `var/ipfire/menu.d/${file}`, await readFile(path.join(WUI_FIXTURES, 'config/menu', file)));
  }
  await mkdir(path.join(upper, 'var/ipfire/addon-lang'), { recursive: true });
  await put(
    upper,
    'var/ipfire/main/settings',
    `HOSTNAME=ipfire\nDOMAINNAME=localdomain\nLANGUAGE=${settings.language ?? 'en'}\nWINDOWWITHHOSTNAME=on\nSPEED=off\nRRDLOG=/var/log/rrd\n`,
  );
  await put(upper, 'var/ipfire/sensors/settings', '');
  await put(upper, 'var/ipfire/ethernet/settings', settings.ethernet ?? DEFAULT_ETHERNET);
  await put(upper, 'var/ipfire/ppp/settings', settings.ppp ?? DEFAULT_PPP);
  await put(upper, 'var/ipfire/wireguard/settings', '');
  await put(upper, 'var/ipfire/wireguard/peers', '');
  await put(upper, 'etc/system-release', 'IPFire 2.29 (x86_64) - core199\n');
  const theme = path.join(WUI_FIXTURES, 'html/html/themes/ipfire/include');
  await put(
    upper,
    'srv/web/ipfire/html/themes/ipfire/include/colors.txt',
    await readFile(path.join(theme, 'colors.txt')),
  );
  await put(
    upper,
    'srv/web/ipfire/html/themes/ipfire/include/css/style.css',
    await readFile(path.join(theme, 'css/style.css')),
  );
  // Every other page the menu links to: header.pl shows an entry only when its file exists.
  for (const file of await readdir(path.join(WUI_FIXTURES, 'config/menu'))) {
    if (file.startsWith('EX-')) continue;
    const text = await readFile(path.join(WUI_FIXTURES, 'config/menu', file), 'utf8');
    for (const match of text.matchAll(/'uri'\s*=>\s*'\/cgi-bin\/([A-Za-z0-9_.-]+\.cgi)'/g)) {
      await put(upper, `srv/web/ipfire/cgi-bin/${match[1]}`, '');
    }
  }
  await put(
    upper,
    'usr/local/bin/update-lang-cache',
    await readFile(path.join(WUI_FIXTURES, 'src/scripts/update-lang-cache')),
    0o755,
  );
  // IPFire's real addonctrl: setuid root, group nobody (Debian's nogroup here), mode 4750.
  await buildAddonctrl(path.join(upper, ADDONCTRL), nogroupId());
  await put(upper, 'var/log/addonctrl.calls', '', 0o644);
  // The daemon: the package tests' stand-in for running; everything else (--check,
  // --list-interfaces) is the real daemon. "diagnose" answers from a file the test may write.
  await put(
    upper,
    'usr/sbin/igmpproxy',
    await readFile(path.join(REPO_ROOT, 'test/fixtures/appliance/igmpproxy-standin')),
    0o755,
  );
  await put(
    upper,
    `${APPLIANCE_REAL_DAEMON_DIR.slice(1)}/igmpproxy`,
    '#!/bin/sh\n# The real daemon of this test root (test/helpers/real-daemon.ts).\nif [ "$1" = diagnose ]; then\n  [ -f /var/lib/igmpproxy-test/diagnose.json ] || { echo "igmpproxy: unknown command $1" >&2; exit 2; }\n  exec cat /var/lib/igmpproxy-test/diagnose.json\nfi\n' +
      `exec ${realDaemonShellCommand()} "$@"\n`,
    0o755,
  );
  // The initscript with IPFire's real rc configuration and functions (test/fixtures/ipfire).
  await put(
    upper,
    'etc/sysconfig/rc',
    `${await readFile(path.join(REPO_ROOT, 'test/fixtures/ipfire/sysconfig-rc'), 'utf8')}${ADDONCTRL_PROBE}`,
  );
  await put(upper, 'etc/rc.d/init.d/functions', await readFile(path.join(REPO_ROOT, 'test/fixtures/ipfire/functions')));
  // As after a fresh install whose setup found no IPTV upstream: the add-on's default file.
  await put(upper, 'etc/igmpproxy.conf', await readFile(path.join(REPO_ROOT, 'addon/etc/igmpproxy.conf')));
  // The meta file Pakfire keeps for the installed package, as the build writes it.
  const info = await readPackageInfo();
  await put(
    upper,
    `opt/pakfire/db/installed/meta-${info.name}`,
    metaFile(info, `${info.name}-${info.version}-${info.release}.ipfire`, 0),
  );

  // The add-on's web files, as the package installs them.
  const rendered = await renderScripts(info);
  for (const file of [...rendered.web, ...rendered.payload]) await put(upper, file.path, file.content, file.mode);
  await mkdir(path.join(upper, 'var/ipfire/igmpproxy'), { recursive: true });

  // IPFire's vhost, on a free port of 127.0.0.1, logs and keys in the test's directory.
  const vhost = (await readFile(path.join(WUI_FIXTURES, 'config/httpd/vhosts.d/ipfire-interface-ssl.conf'), 'utf8'))
    .replace('<VirtualHost *:444>', `<VirtualHost 127.0.0.1:${port}>`)
    .replaceAll('/var/log/httpd/', '/var/log/httpd-test/')
    .replace('/etc/httpd/server-ecdsa.crt', '/etc/httpd-test/server.crt')
    .replace('/etc/httpd/server-ecdsa.key', '/etc/httpd-test/server.key');
  const modules = [
    'mpm_prefork',
    'authz_core',
    'authz_user',
    'authn_core',
    'authn_file',
    'auth_basic',
    'alias',
    'cgi',
    'mime',
    'headers',
    'rewrite',
    'env',
    'ssl',
    'socache_shmcb',
  ];
  const loads = modules.map((name) => `LoadModule ${name}_module ${MODULES}/mod_${name}.so`).join('\n');
  await put(
    upper,
    'etc/httpd-test/httpd.conf',
    `${loads}
ServerName 127.0.0.1
Listen 127.0.0.1:${port} https
PidFile /run/httpd-test/httpd.pid
DefaultRuntimeDir /run/httpd-test
Mutex file:/run/httpd-test default
User nobody
Group nogroup
ErrorLog /var/log/httpd-test/error_log
LogLevel warn
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
# One process per connection (prefork): room for Chromium's six per host and the test's own.
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16
SSLSessionCache none
${vhost}
`,
  );
  await mkdir(path.join(upper, 'var/log/httpd-test'), { recursive: true });
  await mkdir(path.join(upper, 'run/httpd-test'), { recursive: true });
  await mkdir(path.join(upper, 'var/lib/igmpproxy-test'), { recursive: true });
  if (live) {
    await symlink(live.pidfile, path.join(upper, 'run/igmpproxy.pid'));
    await symlink(live.statusFile, path.join(upper, 'run/igmpproxy.status'));
  }
}

/**
 * TEST PROBE appended to IPFire's /etc/sysconfig/rc in the stand-in root (every initscript
 * sources it): records "NAME ACTION" when the initscript's parent is addonctrl.
 */
const ADDONCTRL_PROBE = `
# TEST PROBE of test/helpers/ipfire-wui.ts, not IPFire's: which initscript actions addonctrl ran.
if [ "$(cat "/proc/$PPID/comm" 2> /dev/null)" = addonctrl ]; then
\tprintf '%s %s\\n' "\${0##*/}" "\${1:-}" >> /var/log/addonctrl.calls
fi
`;

/** The environment IPFire's addonctrl gives an initscript (setuid.c trusted_env). */
const CLEAN_ENVIRONMENT = [
  'env',
  '-i',
  'PATH=/usr/local/bin:/usr/local/sbin:/sbin:/usr/sbin:/bin:/usr/bin',
  'SHELL=/bin/sh',
  'TERM=dumb',
];

/** Debian's group for nobody (IPFire's is called nobody). */
function nogroupId(): number {
  const entry = spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).stdout.split(':');
  const gid = Number(entry[2]);
  if (!Number.isInteger(gid)) throw new Error('no group nogroup on this machine');
  return gid;
}

/** The processes (other than those listed) in the mount namespace `namespace` (a readlink of /proc/PID/ns/mnt). */
async function processesIn(namespace: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/ns/mnt`)) === namespace) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function sh(script: string, args: readonly string[] = []): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', script, 'bash', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts Apache with the stand-in root; stop() ends every process it started and removes the directory. */
export async function startIpfireWui(settings: IpfireSettings = {}, live?: LiveDaemon): Promise<WuiServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wu4-wui-'));
  const upper = path.join(dir, 'upper');
  const work = path.join(dir, 'work');
  const port = await freePort();
  const user = 'admin';
  const password = 'wu4-secret';
  let apache: ChildProcess | undefined;
  /** Apache's mount namespace: what addonctrl started there (the daemon) lives in it too. */
  let namespace: string | undefined;

  const cleanup = async (): Promise<void> => {
    if (apache?.pid && apache.exitCode === null) {
      const exited = new Promise((resolve) => apache!.once('exit', resolve));
      apache.kill('SIGTERM');
      const timer = setTimeout(() => apache?.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (namespace !== undefined) {
      for (const pid of await processesIn(namespace)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const name of OVERLAID) {
      await mkdir(path.join(upper, name), { recursive: true });
      await mkdir(path.join(work, name), { recursive: true });
    }
    await stageRoot(upper, settings, port, live);
    await mkdir(path.join(upper, 'var/ipfire/auth'), { recursive: true });
    const keys = sh(
      'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 -keyout "$1/server.key" -out "$1/server.crt" 2>&1 && htpasswd -bcB "$2" admin "$3" 2>&1',
      [path.join(upper, 'etc/httpd-test'), path.join(upper, 'var/ipfire/auth/users'), password],
    );
    if (keys.status !== 0) throw new Error(`TLS key or users file: ${keys.stdout}`);

    const mounts = OVERLAID.map(
      (name) =>
        `mount -t overlay overlay -o "lowerdir=/${name},upperdir=$1/upper/${name},workdir=$1/work/${name}" /${name}`,
    ).join(' && ');
    // The stand-in root is complete: build the language cache as install.sh does, then serve.
    const script = `set -e; ${mounts}; chown -R nobody: /var/ipfire/igmpproxy /var/ipfire/main; /usr/local/bin/update-lang-cache; exec /usr/sbin/apache2 -f /etc/httpd-test/httpd.conf -DFOREGROUND`;
    // Its own process group: Apache's prefork MPM signals its whole group when it stops.
    const unshare = ['unshare', '--mount', '--propagation', 'private', '--', 'bash', '-c', script, 'bash', dir];
    const command = live ? ['ip', 'netns', 'exec', live.netns, ...unshare] : unshare;
    apache = spawn(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    apache.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    apache.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const url = `https://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (apache.exitCode !== null) throw new Error(`apache2 exited (${apache.exitCode}): ${output}`);
      if (live ? listeningIn(live.netns, port) : await listening(port)) break;
      if (Date.now() > deadline)
        throw new Error(`apache2 did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pid = apache.pid!;
    namespace = await readlink(`/proc/${pid}/ns/mnt`);
    const inside = (argv: readonly string[]) => {
      const result = spawnSync('nsenter', [`--mount=/proc/${pid}/ns/mnt`, '--', ...argv], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };

    const server: WuiServer = {
      url,
      user,
      password,
      dir,
      read: async (file) => {
        const result = inside(['cat', '--', file]);
        return result.status === 0 ? result.stdout : null;
      },
      write: async (file, content, options = {}) => {
        const staged = path.join(dir, 'incoming');
        await writeFile(staged, content);
        const mode = (options.mode ?? 0o644).toString(8);
        const result = inside([
          'install',
          '-D',
          '-m',
          mode,
          '-o',
          options.owner ?? 'root',
          '-g',
          options.owner === 'nobody' ? 'nogroup' : 'root',
          '--',
          staged,
          file,
        ]);
        if (result.status !== 0) throw new Error(`write ${file}: ${result.stderr}`);
      },
      remove: async (file) => {
        inside(['rm', '-f', '--', file]);
      },
      run: inside,
      addonctrlCalls: async () => ((await server.read('/var/log/addonctrl.calls')) ?? '').split('\n').filter(Boolean),
      startDaemonStandIn: async () => {
        const started = inside([...CLEAN_ENVIRONMENT, '/etc/rc.d/init.d/igmpproxy', 'start']);
        const pid = Number((await server.read('/var/run/igmpproxy.pid'))?.trim());
        if (started.status !== 0 || !Number.isInteger(pid))
          throw new Error(`igmpproxy start: ${started.stdout}${started.stderr}`);
        return pid;
      },
      stopDaemonStandIn: async () => {
        const stopped = inside([...CLEAN_ENVIRONMENT, '/etc/rc.d/init.d/igmpproxy', 'stop']);
        if (stopped.status !== 0) throw new Error(`igmpproxy stop: ${stopped.stdout}${stopped.stderr}`);
      },
      errorLog: async () => (await server.read('/var/log/httpd-test/error_log')) ?? '',
      stop: cleanup,
    };
    return server;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * The add-on page's groups table, its body rows as cell texts, a <br> (between receivers)
 * read as a line break. From the cells' nodes, not innerText: innerText depends on the
 * page's layout and once in CI returned two receivers without their line break, as
 * textContent does (cause not found).
 */
export function groupTableRows(page: Page): Promise<string[][]> {
  return page.$$eval('#igmpproxy-groups tbody tr', (trs) =>
    trs.map((tr) =>
      [...(tr as HTMLTableRowElement).cells].map((td) =>
        [...td.childNodes]
          .map((node) => (node.nodeName === 'BR' ? '\n' : (node.textContent ?? '')))
          .join('')
          .trim(),
      ),
    ),
  );
}
