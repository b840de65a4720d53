// A unified-style line diff (as `diff -u` prints it) of the current configuration and the
// one setup made. Configurations are small; a longest-common-subsequence table is enough,
// with a bound so that a huge file costs a whole-file replacement rather than time.

/** Above this many table cells the diff shows every line as replaced. */
const MAX_TABLE_CELLS = 4_000_000;
const CONTEXT = 3;

type Edit = { readonly kind: ' ' | '-' | '+'; readonly text: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function edits(before: readonly string[], after: readonly string[]): Edit[] {
  const n = before.length;
  const m = after.length;
  if ((n + 1) * (m + 1) > MAX_TABLE_CELLS) {
    return [
      ...before.map((text) => ({ kind: '-' as const, text })),
      ...after.map((text) => ({ kind: '+' as const, text })),
    ];
  }
  // common[i][j]: length of the longest common subsequence of before[i..] and after[j..].
  const width = m + 1;
  const common = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      common[i * width + j] =
        before[i] === after[j]
          ? common[(i + 1) * width + j + 1]! + 1
          : Math.max(common[(i + 1) * width + j]!, common[i * width + j + 1]!);
    }
  }
  const result: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      result.push({ kind: ' ', text: before[i++]! });
      j++;
    } else if (j < m && (i === n || common[i * width + j + 1]! >= common[(i + 1) * width + j]!)) {
      result.push({ kind: '+', text: after[j++]! });
    } else {
      result.push({ kind: '-', text: before[i++]! });
    }
  }
  return result;
}

/** '' when both texts are equal; otherwise ---/+++ headers and @@ hunks. */
export function unifiedDiff(before: string, after: string, beforeName: string, afterName: string): string {
  if (before === after) return '';
  const all = edits(splitLines(before), splitLines(after));
  const out = [`--- ${beforeName}`, `+++ ${afterName}`];
  let index = 0;
  while (index < all.length) {
    // The next change, with CONTEXT lines around it; changes closer than 2*CONTEXT merge.
    while (index < all.length && all[index]!.kind === ' ') index++;
    if (index >= all.length) break;
    const start = Math.max(0, index - CONTEXT);
    let end = index;
    for (let quiet = 0; end < all.length && quiet <= 2 * CONTEXT; end++) quiet = all[end]!.kind === ' ' ? quiet + 1 : 0;
    end = Math.min(all.length, trimTrailingContext(all, end));
    out.push(hunkHeader(all, start, end), ...all.slice(start, end).map((edit) => `${edit.kind}${edit.text}`));
    index = end;
  }
  if (!before.endsWith('\n') && before !== '') out.push('\\ No newline at end of file (current file)');
  return `${out.join('\n')}\n`;
}

/** Cuts a hunk's trailing unchanged lines down to CONTEXT. */
function trimTrailingContext(all: readonly Edit[], end: number): number {
  let last = end - 1;
  while (last >= 0 && all[last]!.kind === ' ') last--;
  return last + 1 + CONTEXT;
}

function hunkHeader(all: readonly Edit[], start: number, end: number): string {
  let oldLine = 1;
  let newLine = 1;
  for (const edit of all.slice(0, start)) {
    if (edit.kind !== '+') oldLine++;
    if (edit.kind !== '-') newLine++;
  }
  const slice = all.slice(start, end);
  const oldCount = slice.filter((e) => e.kind !== '+').length;
  const newCount = slice.filter((e) => e.kind !== '-').length;
  const range = (line: number, count: number) => (count === 0 ? `${line - 1},0` : `${line},${count}`);
  return `@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@`;
}
