// Checks a status document (runtime/status.ts) against the field table of
// docs/status-format.md, both ways: every field in the document is documented with its type,
// and every documented field that may not be absent is there. The table is the one source,
// so the document and its description cannot drift apart silently.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'status-format.md');
const TYPES = new Set(['string', 'number', 'boolean', 'null', 'array', 'object']);

export interface DocumentedField {
  readonly types: ReadonlySet<string>;
  readonly optional: boolean;
}

/** The table of docs/status-format.md: `path` -> allowed JSON types, and whether it may be absent. */
export function documentedFields(text = readFileSync(DOC, 'utf8')): Map<string, DocumentedField> {
  const fields = new Map<string, DocumentedField>();
  for (const line of text.split('\n')) {
    const row = /^\| `([^`]+)` \| ([^|]+) \|/.exec(line);
    if (!row) continue;
    const [, field, typeText] = row as unknown as [string, string, string];
    const optional = /, may be absent\s*$/.test(typeText);
    const types = typeText
      .replace(/, may be absent\s*$/, '')
      .split(' or ')
      .map((type) => type.trim());
    for (const type of types)
      if (!TYPES.has(type)) throw new Error(`docs/status-format.md: \`${field}\` has unknown type "${type}"`);
    if (fields.has(field)) throw new Error(`docs/status-format.md: \`${field}\` is listed twice`);
    fields.set(field, { types: new Set(types), optional });
  }
  return fields;
}

function jsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Problems of `document` against the table (empty: it matches); `seen` collects the paths met. */
export function checkStatusDocument(
  document: unknown,
  fields = documentedFields(),
  seen = new Set<string>(),
): string[] {
  const problems: string[] = [];
  const visit = (value: unknown, at: string): void => {
    seen.add(at);
    const type = jsonType(value);
    const field = fields.get(at);
    if (at !== '') {
      if (field === undefined) problems.push(`\`${at}\` (${type}) is not in docs/status-format.md`);
      else if (!field.types.has(type))
        problems.push(`\`${at}\` is ${type}, documented as ${[...field.types].join(' or ')}`);
    }
    if (Array.isArray(value)) {
      for (const element of value) visit(element, `${at}[]`);
    } else if (type === 'object') {
      const object = value as Record<string, unknown>;
      for (const [key, inner] of Object.entries(object)) visit(inner, at === '' ? key : `${at}.${key}`);
      // Documented children of this object that must be present.
      const prefix = at === '' ? '' : `${at}.`;
      for (const [name, child] of fields) {
        if (!name.startsWith(prefix)) continue;
        const rest = name.slice(prefix.length);
        if (/[.[]/.test(rest) || child.optional) continue;
        if (!(rest in object)) problems.push(`\`${name}\` is documented but missing`);
      }
    }
  };
  visit(document, '');
  return problems;
}
