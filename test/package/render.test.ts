import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LAYOUT,
  readPackageInfo,
  renderScripts,
  renderTemplate,
  templateValues,
  TemplateError,
  type PackageInfo,
  type RenderedFile,
} from '../../build/render.ts';

const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;

describe('renderTemplate', () => {
  it('pastes values as they are: no HTML escaping of / & < " =', () => {
    const out = renderTemplate('a={{v}} b={{{v}}}', { v: '/usr/sbin/x&<"=' });
    expect(out).toBe('a=/usr/sbin/x&<"= b=/usr/sbin/x&<"=');
  });

  it('rejects a template that names a value that does not exist', () => {
    expect(() => renderTemplate('x {{daemon}} {{typo}}', { daemon: '/usr/sbin/igmpproxy' })).toThrow(
      /no value named 'typo'/,
    );
  });

  it('checks partials too, and rejects missing or self-including ones', () => {
    expect(() => renderTemplate('{{> p}}', {}, { p: '{{missing}}' })).toThrow(/partial p: no value named 'missing'/);
    expect(() => renderTemplate('{{> nope}}', {}, {})).toThrow(/no partial named 'nope'/);
    expect(() => renderTemplate('{{> p}}', {}, { p: '{{> p}}' })).toThrow(/includes itself/);
    expect(renderTemplate('[{{> p}}]', { v: '1' }, { p: 'v={{v}}' })).toBe('[v=1]');
  });

  it('rejects sections, which would hide a missing value', () => {
    expect(() => renderTemplate('{{#v}}x{{/v}}', { v: 'a' })).toThrow(TemplateError);
  });
});

describe('templateValues', () => {
  const pkg: PackageInfo = { name: 'igmpproxy', version: '1.0.0', release: 100, summary: 'x' };

  it.each([
    ['a space', '/usr/sbin/igmp proxy'],
    ['a quote', "/etc/igmp'proxy.conf"],
    ['a dollar', '/var/run/$x.pid'],
    ['a backtick', '/var/run/`x`.pid'],
    ['a semicolon', 'IGMPPROXY_IN;reboot'],
    ['a newline', 'IGMPPROXY_IN\nreboot'],
    ['a glob', '/usr/lib/*'],
    ['nothing at all', ''],
  ])('refuses a layout value with %s', (_what, value) => {
    expect(() => templateValues(pkg, { ...LAYOUT, pidfile: value })).toThrow(/pidfile/);
  });

  it('refuses a value that reads as an option', () => {
    expect(() => templateValues(pkg, { ...LAYOUT, chainIn: '-F' })).toThrow(/option/);
  });

  it('refuses a version unsafe in a shell', () => {
    expect(() => templateValues({ ...pkg, version: '1.0 $(id)' })).toThrow(/version/);
  });

  it('carries version and release', () => {
    const values = templateValues(pkg);
    expect(values.version).toBe('1.0.0');
    expect(values.release).toBe('100');
    expect(values.daemon).toBe('/usr/sbin/igmpproxy');
  });
});

describe('rendered scripts', () => {
  let scripts: RenderedFile[] = [];
  let dir = '';

  beforeAll(async () => {
    const rendered = await renderScripts(await readPackageInfo());
    scripts = [...rendered.payload, ...rendered.pakfire];
    dir = await mkdtemp(path.join(os.tmpdir(), 'ipp6-render-'));
    for (const [index, script] of scripts.entries()) {
      await writeFile(path.join(dir, `${index}.sh`), script.content);
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are the expected files with IPFire modes', () => {
    expect(scripts.map((s) => [s.path, s.mode.toString(8)])).toEqual([
      ['etc/rc.d/init.d/igmpproxy', '754'],
      ['etc/rc.d/init.d/networking/red.up/15-igmpproxy', '754'],
      ['usr/lib/igmpproxy/firewall', '755'],
      ['install.sh', '744'],
      ['uninstall.sh', '744'],
      ['update.sh', '744'],
    ]);
  });

  it('start with #!/bin/bash and contain the real paths, unescaped', () => {
    for (const script of scripts) {
      expect(script.content.startsWith('#!/bin/bash\n'), script.path).toBe(true);
      expect(script.content, script.path).not.toMatch(/&#x2F;|&amp;|&quot;|\{\{/);
    }
    const initscript = scripts[0]!.content;
    expect(initscript).toContain('loadproc -p "${PIDFILE}" "/usr/sbin/igmpproxy" "/etc/igmpproxy.conf"');
    expect(initscript).toContain('PIDFILE="/var/run/igmpproxy.pid"');
  });

  it("the red.up hook sorts after IPFire's 10-multicast the way run_subdir orders them (ls -v)", () => {
    const hook = path.basename(LAYOUT.redUpHook);
    const listed = spawnSync(
      'bash',
      ['-c', `printf '%s\\n' 99-beep ${hook} 10-multicast 01-conntrack-cleanup 20-firewall | sort -V`],
      {
        encoding: 'utf8',
      },
    )
      .stdout.trim()
      .split('\n');
    expect(listed.indexOf(hook)).toBeGreaterThan(listed.indexOf('10-multicast'));
    // run_subdir passes an argument only for names like NN-S..., NN-K...: ours must get none.
    expect(hook.split('-')[1]).toBe('igmpproxy');
  });

  it('pass bash -n', () => {
    for (const [index, script] of scripts.entries()) {
      const result = spawnSync('bash', ['-n', path.join(dir, `${index}.sh`)], { encoding: 'utf8' });
      expect(result.stderr, script.path).toBe('');
      expect(result.status, script.path).toBe(0);
    }
  });

  it.skipIf(!hasShellcheck)('pass shellcheck without findings', () => {
    const files = scripts.map((_s, index) => path.join(dir, `${index}.sh`));
    const result = spawnSync('shellcheck', ['--shell=bash', '--severity=style', ...files], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});
