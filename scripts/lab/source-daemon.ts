// Our daemon from source (addon/daemon/main.ts on the tests' Node) in the lab's proxy
// namespace, in the foreground with debug logging, its pidfile and status file in a scratch
// directory of its own: what the end-to-end suites that test one feature need.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IptvLab, labNode, repositoryRoot } from './iptv-lab.ts';
import type { ProxyHandle } from './iptv-lab.ts';

export class SourceDaemon {
  readonly proxy: ProxyHandle;
  readonly dir: string;
  readonly statusFile: string;
  private readonly lab: IptvLab;

  private constructor(lab: IptvLab, proxy: ProxyHandle, dir: string) {
    this.lab = lab;
    this.proxy = proxy;
    this.dir = dir;
    this.statusFile = path.join(dir, 'igmpproxy.status');
  }

  /** Starts it with `config` and waits (bounded, scaled by the lab) for "started". */
  static async start(lab: IptvLab, prefix: string, config: string): Promise<SourceDaemon> {
    const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-daemon-`));
    try {
      const proxy = await lab.startProxy({
        command: [
          ...labNode,
          path.join(repositoryRoot, 'addon', 'daemon', 'main.ts'),
          '-d',
          '-vv',
          '--pidfile',
          path.join(dir, 'igmpproxy.pid'),
          '--status-file',
          path.join(dir, 'igmpproxy.status'),
        ],
        config,
      });
      await proxy.waitForLog(/ started$/, 10_000);
      return new SourceDaemon(lab, proxy, dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** A fresh status document: SIGUSR1, then the file it writes (bounded wait). */
  async status<T>(): Promise<T> {
    rmSync(this.statusFile, { force: true });
    this.proxy.process.child.kill('SIGUSR1');
    let document: T | undefined;
    await this.lab.waitFor(
      () => {
        try {
          document = JSON.parse(readFileSync(this.statusFile, 'utf8')) as T;
          return true;
        } catch {
          return false;
        }
      },
      3_000,
      'the status file',
    );
    return document as T;
  }

  /** Removes the scratch directory (the lab stops the process with its namespaces). */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
