// core/group-state.ts alone: one group's source records and timers on the real timer queue
// with a recorded handler, so each timer's firing and each record operation shows directly.
import { describe, expect, it } from 'vitest';
import { GroupState, lowerTimer } from '../../addon/daemon/core/group-state.ts';
import type { GroupTimerHandlers } from '../../addon/daemon/core/group-state.ts';
import { TimerQueue } from '../../addon/daemon/core/timers.ts';
import { formatIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip } from './harness.ts';

const GROUP = ip('239.1.2.3');
const [s1, s2] = [ip('10.0.0.1'), ip('10.0.0.2')];

function rig() {
  const timers = new TimerQueue();
  const fired: string[] = [];
  const handlers: GroupTimerHandlers = {
    groupTimerFired: (state) => fired.push(`group ${formatIpv4(state.group)}`),
    sourceTimerFired: (state, source) => fired.push(`source ${formatIpv4(source)} of ${formatIpv4(state.group)}`),
    retransmitDue: (state, deadline) => fired.push(`retransmit ${formatIpv4(state.group)} at ${deadline}`),
  };
  return { timers, fired, state: new GroupState(GROUP, timers, handlers) };
}

describe('GroupState', () => {
  it('starts INCLUDE({}) with no timer running', () => {
    const { timers, state } = rig();
    expect(state.mode).toBe('include');
    expect(state.sources.size).toBe(0);
    expect(state.compatibility).toBe(3);
    expect(timers.size).toBe(0);
  });

  it('7.3.2: the oldest host version heard counts until its older-host timer runs out', () => {
    const { timers, state } = rig();
    state.olderHostPresent(2, 200);
    expect(state.compatibility).toBe(2);
    state.olderHostPresent(1, 100);
    expect(state.compatibility).toBe(1);
    timers.runDue(100);
    expect(state.compatibility).toBe(2);
    timers.runDue(200);
    expect(state.compatibility).toBe(3);
  });

  it('the group, source and retransmission timers call their handlers with the state (and the deadline)', () => {
    const { timers, fired, state } = rig();
    state.groupTimer.start(300);
    state.startSource(s1, 100);
    state.retransmitTimer.start(200);
    timers.runDue(300);
    expect(fired).toEqual(['source 10.0.0.1 of 239.1.2.3', 'retransmit 239.1.2.3 at 200', 'group 239.1.2.3']);
  });

  it('startSource makes a record once and restarts its timer; addExcluded adds a stopped record but never touches one held', () => {
    const { state } = rig();
    state.startSource(s1, 100);
    const record = state.sources.get(s1);
    state.startSource(s1, 500);
    expect(state.sources.get(s1)).toBe(record);
    expect(record?.timer.deadline).toBe(500);
    state.addExcluded(s1);
    expect(state.sources.get(s1)?.timer.running).toBe(true);
    state.addExcluded(s2);
    expect(state.sources.get(s2)?.timer.running).toBe(false);
    expect([...state.sources.keys()]).toEqual([s1, s2]);
  });

  it('deleteSource stops its timer and forgets its pending source queries', () => {
    const { timers, fired, state } = rig();
    state.startSource(s1, 100);
    state.startSource(s2, 100);
    state.sourceQueriesLeft = new Map([
      [s1, 1],
      [s2, 1],
    ]);
    state.deleteSource(s1);
    expect(state.sources.has(s1)).toBe(false);
    expect([...state.sourceQueriesLeft.keys()]).toEqual([s2]);
    timers.runDue(100);
    expect(fired).toEqual(['source 10.0.0.2 of 239.1.2.3']);
  });

  it('groups without sources share no records: a source started or excluded in one is in no other, and its last deletion leaves it empty', () => {
    const timers = new TimerQueue();
    const fired: string[] = [];
    const handlers: GroupTimerHandlers = {
      groupTimerFired: (state) => fired.push(`group ${formatIpv4(state.group)}`),
      sourceTimerFired: (state, source) => fired.push(`source ${formatIpv4(source)} of ${formatIpv4(state.group)}`),
      retransmitDue: () => undefined,
    };
    const [a, b, c] = [ip('239.1.1.1'), ip('239.1.1.2'), ip('239.1.1.3')].map(
      (group) => new GroupState(group, timers, handlers),
    ) as [GroupState, GroupState, GroupState];
    a.startSource(s1, 100);
    b.addExcluded(s2);
    expect([...a.sources.keys()]).toEqual([s1]);
    expect([...b.sources.keys()]).toEqual([s2]);
    expect(c.sources.size).toBe(0);
    a.deleteSource(s1);
    b.deleteSource(s2);
    expect(a.sources.size + b.sources.size + c.sources.size).toBe(0);
    a.startSource(s2, 100);
    expect([...a.sources.keys()]).toEqual([s2]);
    expect(b.sources.size + c.sources.size).toBe(0);
    // Each group timer fires for its own group.
    c.groupTimer.start(200);
    b.groupTimer.start(300);
    timers.runDue(300);
    expect(fired).toEqual(['source 10.0.0.2 of 239.1.1.1', 'group 239.1.1.3', 'group 239.1.1.2']);
  });

  it('stopTimers stops every timer it made', () => {
    const { timers, state } = rig();
    state.groupTimer.start(100);
    state.startSource(s1, 100);
    state.olderHostPresent(1, 100);
    state.olderHostPresent(2, 100);
    state.retransmitTimer.start(100);
    expect(timers.size).toBe(5);
    state.stopTimers();
    expect(timers.size).toBe(0);
  });
});

describe('lowerTimer', () => {
  it('lowers a running timer, never raises one, and leaves a stopped one stopped', () => {
    const { state } = rig();
    state.groupTimer.start(1000);
    lowerTimer(state.groupTimer, 400);
    expect(state.groupTimer.deadline).toBe(400);
    lowerTimer(state.groupTimer, 900);
    expect(state.groupTimer.deadline).toBe(400);
    state.groupTimer.stop();
    lowerTimer(state.groupTimer, 100);
    expect(state.groupTimer.running).toBe(false);
  });
});
