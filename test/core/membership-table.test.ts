// RFC 3376 6.4 as a table (core/membership-table.ts), walked row by row against Membership.
// The expectations come from each row's verbatim RFC cells, read by this file's own small
// interpreter of the RFC's notation (sets A, B, X, Y with +, -, *; actions such as
// "(A-X-Y)=Group Timer" or "Send Q(G,A-Y)"), not from the row's typed fields that drive the
// code: a field that disagrees with its quote fails here. Membership runs with a fake port
// (recording queries) and the real timer queue with a fake clock. Each row is walked twice:
// as the querier (it sends the row's queries, which lower timers per 6.6.1) and while another
// router is querier (no queries, no lowering, so every timer value of the row shows).
import { describe, expect, it } from 'vitest';
import { Membership } from '../../addon/daemon/core/membership.ts';
import type { DownstreamPort } from '../../addon/daemon/core/membership.ts';
import { QUERY_TIMER_RULES, TRANSITIONS } from '../../addon/daemon/core/membership-table.ts';
import type { TransitionRow } from '../../addon/daemon/core/membership-table.ts';
import type { CoreContext } from '../../addon/daemon/core/context.ts';
import { DEFAULT_SETTINGS } from '../../addon/daemon/core/settings.ts';
import { TimerQueue } from '../../addon/daemon/core/timers.ts';
import type { GroupRecordType, IgmpQuery } from '../../addon/daemon/igmp/types.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import type { Ipv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip } from './harness.ts';

const GMI = DEFAULT_SETTINGS.groupMembershipIntervalMs;
const LMQT = DEFAULT_SETTINGS.lastMemberQueryTimeMs;
const GROUP = ip('239.1.2.3');
const HOST = ip('192.168.1.20');
const [s1, s2, s3, s4, s5] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map(ip) as [
  Ipv4,
  Ipv4,
  Ipv4,
  Ipv4,
  Ipv4,
];

const RECORD_TYPES: Record<string, GroupRecordType> = {
  IS_IN: 'is-include',
  IS_EX: 'is-exclude',
  TO_IN: 'to-include',
  TO_EX: 'to-exclude',
  ALLOW: 'allow',
  BLOCK: 'block',
};

// ---- the RFC's notation -----------------------------------------------------------------

type Sets = Record<string, ReadonlySet<Ipv4>>;

/** Evaluates "X+(A-Y)" and the like, left to right, parentheses first. */
function evaluate(expression: string, sets: Sets): Set<Ipv4> {
  const tokens = expression
    .replace(/\s+/g, '')
    .split(/([()+*-])/)
    .filter((t) => t !== '');
  let position = 0;
  const operand = (): Set<Ipv4> => {
    const token = tokens[position++];
    if (token === '(') {
      const inner = sequence();
      if (tokens[position++] !== ')') throw new Error(`unbalanced ${expression}`);
      return inner;
    }
    const set = token === undefined ? undefined : sets[token];
    if (set === undefined) throw new Error(`unknown set ${token} in ${expression}`);
    return new Set(set);
  };
  const sequence = (): Set<Ipv4> => {
    let result = operand();
    while (tokens[position] === '+' || tokens[position] === '-' || tokens[position] === '*') {
      const operator = tokens[position++];
      const right = operand();
      if (operator === '+') result = new Set([...result, ...right]);
      if (operator === '-') result = new Set([...result].filter((s) => !right.has(s)));
      if (operator === '*') result = new Set([...result].filter((s) => right.has(s)));
    }
    return result;
  };
  const result = sequence();
  if (position !== tokens.length) throw new Error(`trailing tokens in ${expression}`);
  return result;
}

/** "EXCLUDE (X+A,Y-A)" → mode and its one or two lists (split at the top-level comma). */
function parseState(cell: string): { mode: 'include' | 'exclude'; lists: string[] } {
  const match = /^(INCLUDE|EXCLUDE) \((.*)\)$/.exec(cell);
  if (match === null) throw new Error(`not a router state: ${cell}`);
  const body = match[2]!;
  let depth = 0;
  let split = -1;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '(') depth++;
    if (body[i] === ')') depth--;
    if (body[i] === ',' && depth === 0) split = i;
  }
  return {
    mode: match[1] === 'INCLUDE' ? 'include' : 'exclude',
    lists: split < 0 ? [body] : [body.slice(0, split), body.slice(split + 1)],
  };
}

const name = (set: Iterable<Ipv4>): string[] => [...set].sort((a, b) => a - b).map(formatIpv4);

// ---- the walk ---------------------------------------------------------------------------

interface Lab {
  readonly membership: Membership;
  readonly queries: IgmpQuery[];
  setClock(ms: number): void;
  isQuerier: boolean;
}

function lab(): Lab {
  let clock = 0;
  const queries: IgmpQuery[] = [];
  const ctx: CoreContext = {
    settings: DEFAULT_SETTINGS,
    timers: new TimerQueue(),
    now: () => clock,
    random: () => 0.5,
    emit: () => undefined,
    log: () => undefined,
    quickLeave: () => false,
  };
  const result: Lab = {
    membership: undefined as unknown as Membership,
    queries,
    setClock: (ms) => {
      clock = ms;
    },
    isQuerier: true,
  };
  const port: DownstreamPort = {
    name: 'lan1',
    isQuerier: () => result.isQuerier,
    sendQuery: (message, destination) => {
      expect(destination).toBe(GROUP);
      queries.push(message);
    },
    changed: () => undefined,
  };
  (result as { membership: Membership }).membership = new Membership(ctx, port);
  return result;
}

/** Source timers (null = stopped) and the group timer, as the snapshot shows them. */
function timersOf(membership: Membership): { mode: string; group: number | null; sources: Map<string, number | null> } {
  const snapshot = membership.snapshot();
  expect(snapshot).toHaveLength(1);
  const group = snapshot[0]!;
  return {
    mode: group.mode,
    group: group.groupTimerAt,
    sources: new Map(group.sources.map((s) => [s.source, s.timerAt])),
  };
}

// Setup at t=0 and t=500, the row's record at t=1000: "=GMI", "=Group Timer" (0 + GMI) and
// untouched timers (500 + GMI) all differ.
const ROW_AT = 1_000;

/** The router state before the row: INCLUDE ({s1,s2}) or EXCLUDE ({s1,s2},{s3,s4}). */
function stateBefore(row: TransitionRow): { lab: Lab; sets: Sets; report: Ipv4[] } {
  const l = lab();
  const m = l.membership;
  if (row.mode === 'include') {
    m.v3Record(HOST, 'allow', GROUP, [s1, s2]);
    l.setClock(500);
    m.v3Record(HOST, 'allow', GROUP, [s2]);
    // A = {s1, s2}; B, the record: {s2, s3} (one in A, one new).
    const report = [s2, s3];
    expect(timersOf(m)).toEqual({
      mode: 'include',
      group: null,
      sources: new Map([
        ['10.0.0.1', GMI],
        ['10.0.0.2', 500 + GMI],
      ]),
    });
    return { lab: l, sets: { A: new Set([s1, s2]), B: new Set(report) }, report };
  }
  m.v3Record(HOST, 'is-exclude', GROUP, [s3, s4]);
  l.setClock(500);
  m.v3Record(HOST, 'allow', GROUP, [s1, s2]);
  // X = {s1, s2}, Y = {s3, s4}; A, the record: {s2, s4, s5} (one in X, one in Y, one new).
  const report = [s2, s4, s5];
  expect(timersOf(m)).toEqual({
    mode: 'exclude',
    group: GMI,
    sources: new Map([
      ['10.0.0.3', null],
      ['10.0.0.4', null],
      ['10.0.0.1', 500 + GMI],
      ['10.0.0.2', 500 + GMI],
    ]),
  });
  return { lab: l, sets: { X: new Set([s1, s2]), Y: new Set([s3, s4]), A: new Set(report) }, report };
}

describe('RFC 3376 6.4 table', () => {
  it('has exactly one row per filter mode and record type, each keyed as its quote says', () => {
    const keys = TRANSITIONS.map((row) => `${row.mode} ${row.record}`);
    expect(new Set(keys).size).toBe(12);
    for (const row of TRANSITIONS) {
      expect(parseState(row.rfc.routerState).mode).toBe(row.mode);
      const report = /^([A-Z_]+) \(([AB])\)$/.exec(row.rfc.reportReceived);
      expect(RECORD_TYPES[report?.[1] ?? '']).toBe(row.record);
      // The record's list is B in INCLUDE rows and A in EXCLUDE rows.
      expect(report?.[2]).toBe(row.mode === 'include' ? 'B' : 'A');
      expect(parseState(row.rfc.newRouterState).mode).toBe(row.newMode);
    }
  });

  describe.each(
    TRANSITIONS.map(
      (row) =>
        [
          `${row.rfc.routerState} ${row.rfc.reportReceived} → ${row.rfc.newRouterState}: ${row.rfc.actions.join(', ')}`,
          row,
        ] as const,
    ),
  )('%s', (_title, row) => {
    it.each([true, false])(
      'ends in the new state with the timers and queries its actions name (querier: %s)',
      (querier) => {
        const { lab: l, sets, report } = stateBefore(row);
        l.isQuerier = querier;
        const old = timersOf(l.membership);
        l.setClock(ROW_AT);
        l.membership.v3Record(HOST, row.record, GROUP, report);

        // What the quoted actions do, in the RFC's order, to a model of the timers.
        const sources = new Map(old.sources);
        let groupTimer = old.group;
        const expectedQueries: { sources: string[] }[] = [];
        for (const action of row.rfc.actions) {
          const setTimers = /^\((.+)\)=(GMI|0|Group Timer)$/.exec(action);
          const deletion = /^Delete \((.+)\)$/.exec(action);
          const sourceQuery = /^Send Q\(G,(.+)\)$/.exec(action);
          if (setTimers !== null) {
            const value = setTimers[2] === 'GMI' ? ROW_AT + GMI : setTimers[2] === '0' ? null : old.group;
            for (const s of evaluate(setTimers[1]!, sets)) sources.set(formatIpv4(s), value);
          } else if (deletion !== null) {
            for (const s of evaluate(deletion[1]!, sets)) sources.delete(formatIpv4(s));
          } else if (sourceQuery !== null) {
            // 6.6.1 Q(G,A): the queried sources' timers are lowered to LMQT.
            if (!querier) continue;
            const queried = evaluate(sourceQuery[1]!, sets);
            for (const s of queried) {
              const at = sources.get(formatIpv4(s));
              if (at !== undefined && at !== null && at > ROW_AT + LMQT) sources.set(formatIpv4(s), ROW_AT + LMQT);
            }
            expectedQueries.push({ sources: name(queried) });
          } else if (action === 'Send Q(G)') {
            // 6.6.1 Q(G): the group timer is lowered to LMQT.
            if (!querier) continue;
            if (groupTimer !== null && groupTimer > ROW_AT + LMQT) groupTimer = ROW_AT + LMQT;
            expectedQueries.push({ sources: [] });
          } else if (action === 'Group Timer=GMI') {
            groupTimer = ROW_AT + GMI;
          } else {
            throw new Error(`action not understood: ${action}`);
          }
        }

        const after = timersOf(l.membership);
        expect(after.mode).toBe(row.newMode);
        expect(after.group).toBe(groupTimer);
        expect(Object.fromEntries(after.sources)).toEqual(Object.fromEntries(sources));

        // The new router state as the RFC writes it: INCLUDE (list) or EXCLUDE (X, Y).
        const { lists } = parseState(row.rfc.newRouterState);
        const running = [...after.sources].filter(([, at]) => at !== null).map(([s]) => s);
        const stopped = [...after.sources].filter(([, at]) => at === null).map(([s]) => s);
        if (row.newMode === 'include') {
          expect(name([...after.sources.keys()].map(ip))).toEqual(name(evaluate(lists[0]!, sets)));
        } else {
          expect(name(running.map(ip))).toEqual(name(evaluate(lists[0]!, sets)));
          expect(name(stopped.map(ip))).toEqual(name(evaluate(lists[1]!, sets)));
        }

        // Queries: IGMPv3, for the group; a Q(G,S) may be split by the S flag (6.6.3.2).
        for (const query of l.queries) {
          expect(query).toMatchObject({ version: 3, group: GROUP });
        }
        const sent = l.queries.map((q) => name(q.v3?.sources ?? []));
        const groupQueries = sent.filter((s) => s.length === 0).length;
        expect(groupQueries).toBe(expectedQueries.filter((q) => q.sources.length === 0).length);
        const askedSources = sent.flat().sort();
        expect(askedSources).toEqual(expectedQueries.flatMap((q) => q.sources).sort());
      },
    );
  });
});

describe('RFC 3376 6.6.1 timer updates for queries heard from the querier', () => {
  // While another router is querier we send nothing but follow its queries: LMQT is then
  // its Max Resp Time (here 1 s) times its QRV (2).
  const heard = (sources: Ipv4[]): IgmpQuery => ({
    type: 'query',
    version: 3,
    maxResponseMs: 1_000,
    group: GROUP,
    v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources },
  });

  it(`${QUERY_TIMER_RULES.group.rfc.query}: ${QUERY_TIMER_RULES.group.rfc.action}`, () => {
    const { lab: l } = stateBefore(TRANSITIONS.find((row) => row.mode === 'exclude')!);
    l.isQuerier = false;
    l.setClock(ROW_AT);
    l.membership.queryHeard(heard([]));
    const after = timersOf(l.membership);
    expect(after.group).toBe(ROW_AT + 2_000);
    expect(after.sources.get('10.0.0.1')).toBe(500 + GMI);
    expect(l.queries).toEqual([]);
  });

  it(`${QUERY_TIMER_RULES.groupAndSource.rfc.query}: ${QUERY_TIMER_RULES.groupAndSource.rfc.action}`, () => {
    const { lab: l } = stateBefore(TRANSITIONS.find((row) => row.mode === 'include')!);
    l.isQuerier = false;
    l.setClock(ROW_AT);
    l.membership.queryHeard(heard([s2, s5]));
    const after = timersOf(l.membership);
    expect(Object.fromEntries(after.sources)).toEqual({ '10.0.0.1': GMI, '10.0.0.2': ROW_AT + 2_000 });
    expect(l.queries).toEqual([]);
  });

  it('lowers only: a timer already below the queried LMQT keeps its deadline', () => {
    const { lab: l } = stateBefore(TRANSITIONS.find((row) => row.mode === 'include')!);
    l.isQuerier = false;
    l.setClock(GMI - 100);
    l.membership.queryHeard(heard([s1]));
    expect(timersOf(l.membership).sources.get('10.0.0.1')).toBe(GMI);
  });
});
