// The layer rules of addon/daemon/README.md, checked against the code: every import line of
// addon/, build/ and scripts/ must be an edge the README's tables allow.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../build/repository.ts';

const README = path.join(REPOSITORY_ROOT, 'addon', 'daemon', 'README.md');
const DAEMON = 'addon/daemon/';

/**
 * Edges that break the rules today, each with the reason it is still there. The test fails
 * when one of them is gone (remove it here) as well as on any edge not listed.
 */
const KNOWN_VIOLATIONS: ReadonlyMap<string, string> = new Map([]);

/** "`a`, `b.ts`" → ["a", "b.ts"]; "—" → []. */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => (match[1] as string).replace(/\/$/, ''));
}

/** The rows of the table under the header line that starts with `| ${first} |`. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  if (start < 0) throw new Error(`${README}: no table starting with "| ${first} |"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

interface Rules {
  /** Daemon layer name (directory, or file for the loose .ts files) → layers it may import. */
  readonly layers: Map<string, Set<string>>;
  /** Top directory → top directories it may import. */
  readonly directories: Map<string, Set<string>>;
}

function readRules(): Rules {
  const text = readFileSync(README, 'utf8');
  const layers = new Map<string, Set<string>>();
  const forEveryLayer: string[] = [];
  for (const [layer, what, allowed] of tableRows(text, 'layer')) {
    for (const name of names(layer as string)) {
      layers.set(name, new Set(names(allowed as string)));
      if ((what as string).includes('every layer')) forEveryLayer.push(name);
    }
  }
  for (const [name, allowed] of layers) for (const shared of forEveryLayer) if (shared !== name) allowed.add(shared);
  const directories = new Map<string, Set<string>>();
  for (const [directory, allowed] of tableRows(text, 'directory')) {
    for (const name of names(directory as string)) {
      directories.set(
        name,
        new Set(names(allowed as string).flatMap((cell) => (cell.startsWith('only ') ? [cell.slice(5)] : [cell]))),
      );
    }
  }
  return { layers, directories };
}

/** The layer of a file under addon/daemon/: its directory, or the file name at the top. */
function layerOf(relative: string): string {
  const inside = relative.slice(DAEMON.length);
  const slash = inside.indexOf('/');
  return slash < 0 ? inside : inside.slice(0, slash);
}

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(path.join(REPOSITORY_ROOT, directory), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|mjs)$/.test(entry.name)) {
      files.push(path.relative(REPOSITORY_ROOT, path.join(entry.parentPath, entry.name)));
    }
  }
  return files.sort();
}

/** Relative module specifiers of a file's static, type, re-export and dynamic imports. */
function importedPaths(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*'(\.{1,2}\/[^']+)'/gm,
    /^\s*import\s*'(\.{1,2}\/[^']+)'/gm,
    /\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1] as string);
  return found;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly file: string;
  readonly line: string;
}

function edges(): Edge[] {
  const result: Edge[] = [];
  for (const top of ['addon', 'build', 'scripts']) {
    for (const file of sourceFiles(top)) {
      const source = readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8');
      for (const specifier of importedPaths(source)) {
        const target = path.normalize(path.join(path.dirname(file), specifier));
        result.push({ from: file, to: target, file, line: specifier });
      }
    }
  }
  return result;
}

describe('layers (addon/daemon/README.md)', () => {
  const rules = readRules();

  it('the README names every daemon layer that exists, and only those', () => {
    const existing = new Set(sourceFiles('addon/daemon').map(layerOf));
    expect([...rules.layers.keys()].sort()).toEqual([...existing].filter((name) => name !== 'README.md').sort());
  });

  it('reads every kind of import line', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from '../b/b.ts';",
      "export { c } from './c.ts';",
      'import {\n  d,\n  e,\n} from "x";',
      "import {\n  f,\n} from '../f.ts';",
      "import './side-effect.ts';",
      "const g = await import('./g.ts');",
      "import path from 'node:path';",
    ].join('\n');
    expect(importedPaths(source).sort()).toEqual([
      '../b/b.ts',
      '../f.ts',
      './a.ts',
      './c.ts',
      './g.ts',
      './side-effect.ts',
    ]);
  });

  it('every import edge is allowed', () => {
    const broken = new Set<string>();
    const seenKnown = new Set<string>();
    for (const edge of edges()) {
      const fromTop = edge.from.split('/')[0] as string;
      const toTop = edge.to.split('/')[0] as string;
      if (fromTop !== toTop) {
        const key = `${fromTop} -> ${toTop}`;
        if (rules.directories.get(fromTop)?.has(toTop)) continue;
        if (KNOWN_VIOLATIONS.has(key)) {
          seenKnown.add(key);
          continue;
        }
        broken.add(`${edge.file}: imports ${edge.line} (${key} is not allowed)`);
        continue;
      }
      if (!edge.from.startsWith(DAEMON) || !edge.to.startsWith(DAEMON)) continue;
      const from = layerOf(edge.from);
      const to = layerOf(edge.to);
      if (from === to) continue;
      const allowed = rules.layers.get(from);
      if (allowed === undefined) broken.add(`${edge.file}: layer ${from} is not in the README`);
      else if (!allowed.has(to)) broken.add(`${edge.file}: imports ${edge.line} (${from} -> ${to} is not allowed)`);
    }
    expect([...broken]).toEqual([]);
    // A violation that is gone must leave the list, so the list never hides a new one.
    expect([...seenKnown].sort()).toEqual([...KNOWN_VIOLATIONS.keys()].sort());
  });
});
