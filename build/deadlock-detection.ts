// Switches off abseil's mutex deadlock detection in the base Node binary (node-base.ts
// applies it before stripping, while the symbol table is still there).
//
// Why: V8 (13.4 and later) locks through absl::Mutex, and the official Node 24 build
// compiles abseil without NDEBUG, so abseil runs its debug-only deadlock detection with
// its debug default, "abort". The first mutex lock in node::Start builds the lock graph,
// whose pointer hash table (262,139 int32 entries, filled with -1) is 1 MB written at once:
// 1 MB of every Node process's RssAnon (measured in the memory probe: 500 groups
// 12.35 -> 11.4 MB; strace -k shows the 1,114,112-byte mmap under GraphCycles::GraphCycles
// from absl::Mutex::Lock). Every later nested lock adds graph edges and records a stack
// trace. And "abort" ends the process on a lock-order cycle abseil believes it saw: Node's
// own CI hit such false positives (nodejs/node-v8#301). A daemon on a firewall wants
// abseil's release behaviour, kIgnore, from the first instruction on.
//
// How: the mode is one 4-byte global, absl::(anonymous)::synch_deadlock_detection, in .data,
// initialised to kAbort (2). Its initial value is set to kIgnore (0), what
// absl::SetMutexDeadlockDetectionMode(kIgnore) would store, only earlier than any code
// could call it. With kIgnore absl never builds or touches the graph.
import { fileOffsetOf, findSymbol } from './elf.ts';

/** The mode's global in abseil's mutex.cc (an anonymous-namespace std::atomic<OnDeadlockCycle>). */
export const DEADLOCK_DETECTION_SYMBOL = '_ZN4absl12_GLOBAL__N_124synch_deadlock_detectionE';

/** absl::OnDeadlockCycle (absl/synchronization/mutex.h). */
export const OnDeadlockCycle = { ignore: 0, report: 1, abort: 2 } as const;

export interface DeadlockDetectionPatch {
  /** File offset of the 4-byte mode. */
  readonly offset: number;
  /** Virtual address of the mode: the same in the stripped binary. */
  readonly address: number;
  readonly before: number;
}

/** Where the mode is in an unstripped Node binary, and its initial value; throws if the build's Node has no such global. */
export function locateDeadlockDetection(image: Buffer): DeadlockDetectionPatch {
  const symbol = findSymbol(image, DEADLOCK_DETECTION_SYMBOL);
  if (symbol === undefined) {
    throw new Error(
      `the Node binary has no ${DEADLOCK_DETECTION_SYMBOL} (abseil's deadlock detection mode): ` +
        'check whether this Node version still needs build/deadlock-detection.ts',
    );
  }
  if (symbol.size !== 4) throw new Error(`${DEADLOCK_DETECTION_SYMBOL} is ${symbol.size} bytes, expected 4`);
  const offset = fileOffsetOf(image, symbol.value, 4);
  const before = image.readUInt32LE(offset);
  if (!Object.values(OnDeadlockCycle).includes(before as 0 | 1 | 2)) {
    throw new Error(`${DEADLOCK_DETECTION_SYMBOL} holds ${before}, not an absl::OnDeadlockCycle`);
  }
  return { offset, address: symbol.value, before };
}

/** Sets the mode's initial value to kIgnore in place; returns where and what it was. */
export function switchOffDeadlockDetection(image: Buffer): DeadlockDetectionPatch {
  const patch = locateDeadlockDetection(image);
  image.writeUInt32LE(OnDeadlockCycle.ignore, patch.offset);
  return patch;
}
