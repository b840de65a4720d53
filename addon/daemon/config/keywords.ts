// The igmpproxy.conf vocabulary and "did you mean" suggestions for misspellings.

export const TOP_LEVEL_KEYWORDS = [
  'quickleave',
  'hashtablesize',
  'defaultdown',
  'rescanvif',
  'chroot',
  'user',
  'stallalarm',
  'rpfilter',
  'maxgroups',
  'maxgroupsperhost',
  'maxsources',
  'igmpttl',
  'phyint',
] as const;

export const PHYINT_KEYWORDS = [
  'upstream',
  'downstream',
  'disabled',
  'ratelimit',
  'threshold',
  'altnet',
  'whitelist',
  'blacklist',
] as const;

export type TopLevelKeyword = (typeof TOP_LEVEL_KEYWORDS)[number];
export type PhyintKeyword = (typeof PHYINT_KEYWORDS)[number];

const topLevel: ReadonlySet<string> = new Set(TOP_LEVEL_KEYWORDS);
const phyint: ReadonlySet<string> = new Set(PHYINT_KEYWORDS);
const all: readonly string[] = [...TOP_LEVEL_KEYWORDS, ...PHYINT_KEYWORDS];

export function isTopLevelKeyword(word: string): word is TopLevelKeyword {
  return topLevel.has(word);
}

export function isPhyintKeyword(word: string): word is PhyintKeyword {
  return phyint.has(word);
}

export function isKeyword(word: string): boolean {
  return topLevel.has(word) || phyint.has(word);
}

/** Edit distance (insert, delete, substitute, swap of neighbours), stopping early above `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMinimum = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, beforePrevious[j - 2]! + 1);
      }
      current.push(value);
      rowMinimum = Math.min(rowMinimum, value);
    }
    if (rowMinimum > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** The keyword the author probably meant, or undefined when nothing is close. */
export function suggestKeyword(word: string): string | undefined {
  if (word.length > 20) return undefined;
  const lower = word.toLowerCase();
  const caseOnly = all.find((keyword) => keyword === lower);
  if (caseOnly !== undefined) return caseOnly;
  // Short keywords ("user") tolerate one typo, longer ones two.
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const keyword of all) {
    const limit = keyword.length <= 5 ? 1 : 2;
    const distance = editDistance(lower, keyword, limit);
    if (distance <= limit && distance < bestDistance) {
      best = keyword;
      bestDistance = distance;
    }
  }
  return best;
}
