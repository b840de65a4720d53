// The syslog sink against a real datagram socket standing in for /dev/log (a Python
// listener: Node itself cannot bind AF_UNIX datagram sockets).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNativeShim, defaultNativeOutDir } from '../../build/native.ts';
import { loadShim } from '../../addon/daemon/kernel/shim.ts';
import { SyslogSink } from '../../addon/daemon/log/syslog-sink.ts';
import type { IgmpShim } from '../../addon/daemon/kernel/shim.ts';

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
s.settimeout(10)
for _ in range(int(sys.argv[2])):
    print(s.recv(4096).decode(), flush=True)
`;

describe('syslog sink', () => {
  let dir: string;
  let shim: IgmpShim;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-syslog-'));
    shim = loadShim({ path: await buildNativeShim('x64', defaultNativeOutDir('x64')) });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends RFC 3164 lines with ident igmpproxy[pid] and facility daemon to the socket', async () => {
    const socketPath = path.join(dir, 'log');
    const listener = spawn('python3', ['-c', LISTENER, socketPath, '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`listener got ${JSON.stringify(lines)}`)), 10_000);
      listener.stdout.setEncoding('utf8');
      listener.stdout.on('data', (chunk: string) => {
        lines.push(...chunk.split('\n').filter(Boolean));
        if (lines.length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (let i = 0; i < 100 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 50));
    const sink = new SyslogSink(shim, socketPath);
    const time = new Date(2026, 10, 28, 1, 2, 3);
    sink.write('warning', 'red0.8 is gone', time);
    sink.write('debug', 'two\nlines', time);
    await done;
    sink.close();
    expect(lines[0]).toBe('ready');
    expect(lines[1]).toBe(`<28>Nov 28 01:02:03 igmpproxy[${process.pid}]: red0.8 is gone`);
    expect(lines[2]).toBe(`<31>Nov 28 01:02:03 igmpproxy[${process.pid}]: two?lines`);
  });

  it('a missing /dev/log drops messages without throwing', () => {
    const sink = new SyslogSink(shim, path.join(dir, 'nothing-here'));
    expect(() => sink.write('error', 'lost', new Date())).not.toThrow();
    sink.close();
  });
});
