/*
 * A pickle VM (protocols 0–5) that executes nothing. Spec: CPython Lib/pickletools.py (opcode table) and
 * Lib/pickle.py (_Unpickler) @ v3.12. Globals (GLOBAL, STACK_GLOBAL, INST) resolve only through the allow-list in
 * pickle-globals.ts, as A1111's RestrictedUnpickler.find_class; any other name raises PickleSecurityError at the
 * opcode that names it, before anything could be called. copyreg extension codes and out-of-band buffers are refused.
 * Bounded: every length is checked against the bytes left before allocating; stack, memo, mark nesting and object
 * nesting have limits; the VM loop is iterative (no recursion), so a hostile nesting fails fast with a clear error.
 */
import { Vm, type UnpickleOptions } from './pickle-vm.ts'
import { OPS } from './pickle-ops.ts'

export { DEFAULT_PICKLE_LIMITS, PickleTruncatedError, type PickleLimits, type UnpickleOptions } from './pickle-vm.ts'
export { dictAttributes } from './pickle-types.ts'

/** Runs the pickle starting at `opts.start`; returns the value and the byte after STOP. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): { value: unknown; end: number } {
  const vm = new Vm(bytes, opts)
  while (!vm.done) {
    vm.opStart = vm.pos
    if (vm.pos >= bytes.length) vm.truncated('the pickle ends without a STOP opcode (truncated)')
    const op = bytes[vm.pos++]
    const handler = OPS[op]
    if (!handler) return vm.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`)
    handler(vm)
  }
  if (vm.stack.length !== 1 || vm.marks.length > 0) vm.fail(`STOP with ${vm.stack.length} values and ${vm.marks.length} open MARKs on the stack`)
  return { value: vm.stack[0], end: vm.pos }
}

