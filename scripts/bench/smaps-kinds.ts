// The bench probes' readings of their own process (or, for the lab, the proxy's): RssAnon,
// and RssAnon by kind of mapping.
import { readFileSync, readlinkSync } from 'node:fs';

/** This process's RssAnon (kB), from /proc/self/status. */
export function rssAnonKb(): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

/**
 * RssAnon by kind of mapping, for --smaps (kB of Anonymous): V8's heap pages (256 kB
 * chunks), its code range (the one executable anonymous mapping), glibc's heap (brk) and
 * thread arenas (64 MB-aligned), thread stacks, the binary's own data and bss, the rest.
 */
export function anonymousByKind(pid: number | 'self' = 'self'): string {
  const executable = pid === 'self' ? process.execPath : readlinkSync(`/proc/${pid}/exe`);
  const kb = new Map<string, number>();
  let kind = '';
  let previousFile = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const start = BigInt(`0x${header[1]}`);
      const sizeKb = Number((BigInt(`0x${header[2]}`) - start) / 1024n);
      const name = header[4] ?? '';
      kind =
        name === '[heap]'
          ? 'malloc heap'
          : name === '[stack]'
            ? 'main stack'
            : name === executable || (name === '' && previousFile === executable)
              ? 'binary data'
              : name !== ''
                ? 'libraries'
                : header[3]?.includes('x') === true
                  ? 'V8 code range'
                  : start % (64n << 20n) === 0n && start > 0x7f0000000000n
                    ? 'malloc arenas'
                    : sizeKb === 8192
                      ? 'thread stacks'
                      : sizeKb % 256 === 0
                        ? 'V8 heap pages'
                        : 'other';
      previousFile = name;
    }
    const anonymous = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anonymous) kb.set(kind, (kb.get(kind) ?? 0) + Number(anonymous[1]));
  }
  return [...kb]
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
}
