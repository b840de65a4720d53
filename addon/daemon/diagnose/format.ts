// The two faces of a diagnosis: a checklist for people (each problem with its fix right
// under it, then the groups) and one JSON object for scripts and the web page. Names come
// from files an attacker may influence (interface names, the status file): control
// characters never reach the terminal.
import type { Check, Diagnosis, GroupRow } from './checks.ts';

/** Version of the JSON output; changes only when a field is removed or changes meaning. */
export const DIAGNOSE_SCHEMA = 1;

export function formatJson(diagnosis: Diagnosis): string {
  return `${JSON.stringify({ schema: DIAGNOSE_SCHEMA, checks: diagnosis.checks, groups: diagnosis.groups }, null, 2)}\n`;
}

const printable = (text: string): string => text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');

export function formatHuman(diagnosis: Diagnosis): string {
  const lines: string[] = [];
  const idWidth = Math.max(...diagnosis.checks.map((check) => check.id.length));
  for (const check of diagnosis.checks) lines.push(...checkLines(check, idWidth));
  if (diagnosis.groups.length > 0) {
    lines.push('', ...groupTable(diagnosis.groups));
  }
  const problems = diagnosis.checks.filter((check) => !check.ok).length;
  lines.push('', problems === 0 ? 'No problem found.' : `${problems} problem${problems === 1 ? '' : 's'} found.`);
  return `${lines.join('\n')}\n`;
}

function checkLines(check: Check, idWidth: number): string[] {
  const head = `${check.ok ? 'ok     ' : 'PROBLEM'}  ${check.id.padEnd(idWidth)}  `;
  const lines = [`${head}${printable(check.message)}`];
  if (!check.ok && check.fix) lines.push(`${' '.repeat(head.length)}fix: ${printable(check.fix)}`);
  return lines;
}

function groupTable(rows: readonly GroupRow[]): string[] {
  const table = [['group', 'source', 'upstream', 'receivers', 'packets', 'rate', '']];
  for (const row of rows) {
    table.push(
      [
        row.group,
        row.source ?? '-',
        row.upstream ?? '-',
        row.receivers === 0 ? '0' : `${row.receivers} on ${row.downstreams.join(' ')}`,
        row.packets === null ? '-' : String(row.packets),
        row.bitsPerSecond === null ? '-' : `${formatRate(row.bitsPerSecond)} (${row.packetsPerSecond} pkt/s)`,
        row.stalled ? 'NO PACKETS' : '',
      ].map(printable),
    );
  }
  const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
  return table.map((cells) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}

export function formatRate(bitsPerSecond: number): string {
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`;
  if (bitsPerSecond >= 1e3) return `${(bitsPerSecond / 1e3).toFixed(1)} kbit/s`;
  return `${bitsPerSecond} bit/s`;
}
