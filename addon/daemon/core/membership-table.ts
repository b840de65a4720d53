// RFC 3376 section 6.4 as data: how a router's state for one group on one interface changes
// when a group record arrives. One row per [filter mode, record type]; each row quotes its
// cells of the RFC's table verbatim (rfc) and spells the same actions as typed fields that
// membership.ts carries out. test/core/membership-table.test.ts reads the quotes with its own
// interpreter of the RFC's notation and walks every row against Membership, so a field that
// drifts from its quote fails there.
//
// The RFC's notation: in an INCLUDE row, A is the router's source list and B the record's;
// in an EXCLUDE row, X is the requested list (source timer running, forwarded), Y the exclude
// list (timer stopped, not forwarded) and A the record's. "+" is union, "*" intersection,
// "-" difference. Every set is taken from the state before the record.
//
// Rules a new row (or code using them) must keep:
// - Actions run in this order: deletes, source timers, the new mode, the group timer, queries.
//   Queries come last because Q(G,S) only asks about sources whose timer runs (6.6.3.2).
// - "(S)=Group Timer" is the group timer's value before this record.
// - Older-version hosts (7.3.2) are handled before the table, in Membership.v3Record.
// - Sending Q(G) / Q(G,S) lowers timers as section 6.6.1 says (QUERY_TIMER_RULES below).
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecordType } from '../igmp/types.ts';

export type FilterMode = 'include' | 'exclude';

/** Every source set the table names (the RFC's notation, see above). */
export type SourceSet = 'A' | 'B' | 'A-B' | 'B-A' | 'A*B' | 'X-A' | 'Y-A' | 'A-Y' | 'A-X-Y';

/** "=GMI": now + Group Membership Interval; "=Group Timer": the group timer's deadline;
 * "=0": the source is kept with a stopped timer (in EXCLUDE mode: the exclude list Y). */
export type SourceTimerValue = 'GMI' | 'group timer' | 'zero';

export type QueryToSend =
  | { readonly kind: 'group-and-source'; readonly sources: SourceSet }
  | { readonly kind: 'group' };

export interface TransitionRow {
  readonly mode: FilterMode;
  readonly record: GroupRecordType;
  /** The row of RFC 3376's table, cell by cell, verbatim (actions one per line). */
  readonly rfc: {
    readonly section: '6.4.1' | '6.4.2';
    readonly routerState: string;
    readonly reportReceived: string;
    readonly newRouterState: string;
    readonly actions: readonly string[];
  };
  readonly newMode: FilterMode;
  readonly deleteSources: readonly SourceSet[];
  readonly sourceTimers: readonly { readonly sources: SourceSet; readonly timer: SourceTimerValue }[];
  readonly groupTimerToGmi: boolean;
  readonly queries: readonly QueryToSend[];
}

/** RFC 3376 6.4.1 (current-state records) and 6.4.2 (filter-mode-change and source-list-change records). */
export const TRANSITIONS: readonly TransitionRow[] = [
  // ---- 6.4.1 Reception of Current-State Records ----
  {
    mode: 'include',
    record: 'is-include',
    rfc: {
      section: '6.4.1',
      routerState: 'INCLUDE (A)',
      reportReceived: 'IS_IN (B)',
      newRouterState: 'INCLUDE (A+B)',
      actions: ['(B)=GMI'],
    },
    newMode: 'include',
    deleteSources: [],
    sourceTimers: [{ sources: 'B', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [],
  },
  {
    mode: 'include',
    record: 'is-exclude',
    rfc: {
      section: '6.4.1',
      routerState: 'INCLUDE (A)',
      reportReceived: 'IS_EX (B)',
      newRouterState: 'EXCLUDE (A*B,B-A)',
      actions: ['(B-A)=0', 'Delete (A-B)', 'Group Timer=GMI'],
    },
    newMode: 'exclude',
    deleteSources: ['A-B'],
    sourceTimers: [{ sources: 'B-A', timer: 'zero' }],
    groupTimerToGmi: true,
    queries: [],
  },
  {
    mode: 'exclude',
    record: 'is-include',
    rfc: {
      section: '6.4.1',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'IS_IN (A)',
      newRouterState: 'EXCLUDE (X+A,Y-A)',
      actions: ['(A)=GMI'],
    },
    newMode: 'exclude',
    deleteSources: [],
    sourceTimers: [{ sources: 'A', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [],
  },
  {
    mode: 'exclude',
    record: 'is-exclude',
    rfc: {
      section: '6.4.1',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'IS_EX (A)',
      newRouterState: 'EXCLUDE (A-Y,Y*A)',
      actions: ['(A-X-Y)=GMI', 'Delete (X-A)', 'Delete (Y-A)', 'Group Timer=GMI'],
    },
    newMode: 'exclude',
    deleteSources: ['X-A', 'Y-A'],
    sourceTimers: [{ sources: 'A-X-Y', timer: 'GMI' }],
    groupTimerToGmi: true,
    queries: [],
  },
  // ---- 6.4.2 Reception of Filter-Mode-Change and Source-List-Change Records ----
  {
    mode: 'include',
    record: 'allow',
    rfc: {
      section: '6.4.2',
      routerState: 'INCLUDE (A)',
      reportReceived: 'ALLOW (B)',
      newRouterState: 'INCLUDE (A+B)',
      actions: ['(B)=GMI'],
    },
    newMode: 'include',
    deleteSources: [],
    sourceTimers: [{ sources: 'B', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [],
  },
  {
    mode: 'include',
    record: 'block',
    rfc: {
      section: '6.4.2',
      routerState: 'INCLUDE (A)',
      reportReceived: 'BLOCK (B)',
      newRouterState: 'INCLUDE (A)',
      actions: ['Send Q(G,A*B)'],
    },
    newMode: 'include',
    deleteSources: [],
    sourceTimers: [],
    groupTimerToGmi: false,
    queries: [{ kind: 'group-and-source', sources: 'A*B' }],
  },
  {
    mode: 'include',
    record: 'to-exclude',
    rfc: {
      section: '6.4.2',
      routerState: 'INCLUDE (A)',
      reportReceived: 'TO_EX (B)',
      newRouterState: 'EXCLUDE (A*B,B-A)',
      actions: ['(B-A)=0', 'Delete (A-B)', 'Send Q(G,A*B)', 'Group Timer=GMI'],
    },
    newMode: 'exclude',
    deleteSources: ['A-B'],
    sourceTimers: [{ sources: 'B-A', timer: 'zero' }],
    groupTimerToGmi: true,
    queries: [{ kind: 'group-and-source', sources: 'A*B' }],
  },
  {
    mode: 'include',
    record: 'to-include',
    rfc: {
      section: '6.4.2',
      routerState: 'INCLUDE (A)',
      reportReceived: 'TO_IN (B)',
      newRouterState: 'INCLUDE (A+B)',
      actions: ['(B)=GMI', 'Send Q(G,A-B)'],
    },
    newMode: 'include',
    deleteSources: [],
    sourceTimers: [{ sources: 'B', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [{ kind: 'group-and-source', sources: 'A-B' }],
  },
  {
    mode: 'exclude',
    record: 'allow',
    rfc: {
      section: '6.4.2',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'ALLOW (A)',
      newRouterState: 'EXCLUDE (X+A,Y-A)',
      actions: ['(A)=GMI'],
    },
    newMode: 'exclude',
    deleteSources: [],
    sourceTimers: [{ sources: 'A', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [],
  },
  {
    mode: 'exclude',
    record: 'block',
    rfc: {
      section: '6.4.2',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'BLOCK (A)',
      newRouterState: 'EXCLUDE (X+(A-Y),Y)',
      actions: ['(A-X-Y)=Group Timer', 'Send Q(G,A-Y)'],
    },
    newMode: 'exclude',
    deleteSources: [],
    sourceTimers: [{ sources: 'A-X-Y', timer: 'group timer' }],
    groupTimerToGmi: false,
    queries: [{ kind: 'group-and-source', sources: 'A-Y' }],
  },
  {
    mode: 'exclude',
    record: 'to-exclude',
    rfc: {
      section: '6.4.2',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'TO_EX (A)',
      newRouterState: 'EXCLUDE (A-Y,Y*A)',
      actions: ['(A-X-Y)=Group Timer', 'Delete (X-A)', 'Delete (Y-A)', 'Send Q(G,A-Y)', 'Group Timer=GMI'],
    },
    newMode: 'exclude',
    deleteSources: ['X-A', 'Y-A'],
    sourceTimers: [{ sources: 'A-X-Y', timer: 'group timer' }],
    groupTimerToGmi: true,
    queries: [{ kind: 'group-and-source', sources: 'A-Y' }],
  },
  {
    mode: 'exclude',
    record: 'to-include',
    rfc: {
      section: '6.4.2',
      routerState: 'EXCLUDE (X,Y)',
      reportReceived: 'TO_IN (A)',
      newRouterState: 'EXCLUDE (X+A,Y-A)',
      actions: ['(A)=GMI', 'Send Q(G,X-A)', 'Send Q(G)'],
    },
    newMode: 'exclude',
    deleteSources: [],
    sourceTimers: [{ sources: 'A', timer: 'GMI' }],
    groupTimerToGmi: false,
    queries: [{ kind: 'group-and-source', sources: 'X-A' }, { kind: 'group' }],
  },
];

const byKey = new Map(TRANSITIONS.map((row) => [`${row.mode} ${row.record}`, row]));

/** The row for a record arriving while the group is in `mode`. */
export function transitionFor(mode: FilterMode, record: GroupRecordType): TransitionRow {
  const row = byKey.get(`${mode} ${record}`);
  if (row === undefined) throw new Error(`RFC 3376 table has no row for ${mode} ${record}`);
  return row;
}

/** The lists the letters stand for, in the state before the record (order kept). */
export interface SourceLetters {
  readonly A: readonly Ipv4[];
  readonly B: readonly Ipv4[];
  readonly X: readonly Ipv4[];
  readonly Y: readonly Ipv4[];
}

/** Binds the letters: INCLUDE rows read A = the router's list, B = the record's; EXCLUDE rows X, Y and A = the record's. */
export function bindLetters(
  mode: FilterMode,
  sources: Iterable<{ readonly address: Ipv4; readonly running: boolean }>,
  record: readonly Ipv4[],
): SourceLetters {
  const reported = [...new Set(record)];
  const all = [...sources];
  if (mode === 'include') return { A: all.map((s) => s.address), B: reported, X: [], Y: [] };
  return {
    A: reported,
    B: [],
    X: all.filter((s) => s.running).map((s) => s.address),
    Y: all.filter((s) => !s.running).map((s) => s.address),
  };
}

/** The addresses of a set, in the order of its first operand. */
export function sourcesOf(set: SourceSet, letters: SourceLetters): Ipv4[] {
  const { A, B, X, Y } = letters;
  switch (set) {
    case 'A':
      return [...A];
    case 'B':
      return [...B];
    case 'A-B':
      return minus(A, B);
    case 'B-A':
      return minus(B, A);
    case 'A*B':
      return A.filter((s) => B.includes(s));
    case 'X-A':
      return minus(X, A);
    case 'Y-A':
      return minus(Y, A);
    case 'A-Y':
      return minus(A, Y);
    case 'A-X-Y':
      return minus(minus(A, X), Y);
  }
}

function minus(a: readonly Ipv4[], b: readonly Ipv4[]): Ipv4[] {
  const drop = new Set(b);
  return a.filter((s) => !drop.has(s));
}

export interface QueryTimerRow {
  readonly query: 'group' | 'group-and-source';
  /** RFC 3376 6.6.1's table row, verbatim. */
  readonly rfc: { readonly section: '6.6.1'; readonly query: string; readonly action: string };
  readonly lowers: 'group timer' | 'source timers';
}

/**
 * RFC 3376 6.6.1: a group(-and-source)-specific query without the Suppress Router-Side
 * Processing flag lowers timers to LMQT, whether we send it (as querier) or hear it from
 * the querier (then LMQT is its Max Resp Time times its QRV).
 */
export const QUERY_TIMER_RULES: { readonly group: QueryTimerRow; readonly groupAndSource: QueryTimerRow } = {
  groupAndSource: {
    query: 'group-and-source',
    rfc: { section: '6.6.1', query: 'Q(G,A)', action: 'Source Timer for sources in A are lowered to LMQT' },
    lowers: 'source timers',
  },
  group: {
    query: 'group',
    rfc: { section: '6.6.1', query: 'Q(G)', action: 'Group Timer is lowered to LMQT' },
    lowers: 'group timer',
  },
};
