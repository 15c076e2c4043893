/** The pickle VM's state and primitives; the opcodes themselves are in pickle-ops.ts. See pickle.ts for the spec. */
import { PickleSecurityError, TensorFileError } from '../core/errors.ts'
import { resolveGlobal } from './pickle-globals.ts'
import { PyGlobal, PyObject, describe, type CallContext } from './pickle-types.ts'

export interface PickleLimits {
  /** Deepest nesting of containers (and of MARKs). */
  readonly maxDepth: number
  /** Most values on the stack, counting those below marks. */
  readonly maxStack: number
  readonly maxMemo: number
  /** Longest integer (LONG1/LONG4/text LONG) in bytes. */
  readonly maxIntBytes: number
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = { maxDepth: 1000, maxStack: 1 << 22, maxMemo: 1 << 22, maxIntBytes: 1024 }

export interface UnpickleOptions {
  /** The file the pickle came from, for error messages. */
  readonly file: string
  /** Where in the file: 'data.pkl', 'pickle at byte 10', … */
  readonly what: string
  /** Resolves BINPERSID/PERSID ids (torch storages); without it a persistent id is an error. */
  readonly persistentLoad?: (pid: unknown, ctx: CallContext) => unknown
  /** Byte to start at (legacy torch files hold several pickles back to back). */
  readonly start?: number
  readonly limits?: Partial<PickleLimits>
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })
/** True ISO-8859-1 (TextDecoder's 'latin1' is windows-1252, which remaps 0x80–0x9f). */
function latin1(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192))
  return s
}

/** The pickle ran past the bytes it was given (callers reading a prefix of a file may retry with more). */
export class PickleTruncatedError extends TensorFileError {}

export class Vm implements CallContext {
  pos: number
  stack: unknown[] = []
  readonly marks: unknown[][] = []
  marked = 0
  readonly memo = new Map<number, unknown>()
  readonly depth = new WeakMap<object, number>()
  readonly limits: PickleLimits
  opStart = 0
  done = false

  constructor(readonly bytes: Uint8Array, readonly opts: UnpickleOptions) {
    this.pos = opts.start ?? 0
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...opts.limits }
  }

  fail(detail: string): never {
    throw new TensorFileError(this.opts.file, undefined, `${this.opts.what}: byte ${this.opStart}: ${detail}`)
  }
  refuse(global: string, detail = ''): never { throw new PickleSecurityError(this.opts.file, global, detail) }

  truncated(detail: string): never {
    throw new PickleTruncatedError(this.opts.file, undefined, `${this.opts.what}: byte ${this.opStart}: ${detail}`)
  }

  take(n: number): Uint8Array {
    if (!(n >= 0)) this.fail(`length ${n} is invalid`)
    if (n > this.bytes.length - this.pos) this.truncated(`needs ${n} bytes but only ${this.bytes.length - this.pos} remain (truncated or corrupt pickle)`)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  dv(n: number): DataView { const b = this.take(n); return new DataView(b.buffer, b.byteOffset, n) }
  u8(): number { return this.take(1)[0] }
  u16(): number { return this.dv(2).getUint16(0, true) }
  u32(): number { return this.dv(4).getUint32(0, true) }
  u64(): number {
    return Number(this.dv(8).getBigUint64(0, true))
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos)
    if (end < 0) this.truncated('a text argument has no terminating newline (truncated pickle)')
    const s = latin1(this.bytes.subarray(this.pos, end))
    this.pos = end + 1
    return s
  }
  utf8(n: number): string {
    const b = this.take(n)
    if (n <= 256 && b.every((c) => c < 0x80)) return String.fromCharCode(...b)
    try { return UTF8.decode(b) } catch (e) {
      if (e instanceof TensorFileError) throw e
      return this.fail('a string is not valid UTF-8')
    }
  }

  push(v: unknown): void {
    if (this.stack.length + this.marked >= this.limits.maxStack) this.fail(`more than ${this.limits.maxStack} values on the stack`)
    this.stack.push(v)
  }
  pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow')
    return this.stack.pop()
  }
  top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow')
    return this.stack[this.stack.length - 1]
  }
  mark(): void {
    if (this.marks.length >= this.limits.maxDepth) this.fail(`MARKs nest deeper than ${this.limits.maxDepth} levels (malformed or hostile pickle)`)
    this.marks.push(this.stack)
    this.marked += this.stack.length
    this.stack = []
  }
  popMark(): unknown[] {
    const items = this.stack
    const below = this.marks.pop()
    if (!below) return this.fail('no MARK to pop to')
    this.marked -= below.length
    this.stack = below
    return items
  }

  /** Records that `child` now sits inside `parent`; refuses nesting deeper than the limit. */
  nest<T extends object>(parent: T, children: readonly unknown[]): T {
    let d = this.depth.get(parent) ?? 1
    for (const c of children) {
      if (typeof c === 'object' && c !== null) d = Math.max(d, (this.depth.get(c) ?? 1) + 1)
    }
    if (d > this.limits.maxDepth) this.fail(`objects nest deeper than ${this.limits.maxDepth} levels (malformed or hostile pickle)`)
    this.depth.set(parent, d)
    return parent
  }
  tuple(items: unknown[]): readonly unknown[] { return this.nest(Object.freeze(items), items) }

  memoPut(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) this.fail(`memo index ${index} is invalid`)
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) this.fail(`more than ${this.limits.maxMemo} memo entries`)
    this.memo.set(index, this.top())
  }
  memoGet(index: number): void {
    if (!this.memo.has(index)) this.fail(`memo index ${index} was never stored`)
    this.push(this.memo.get(index))
  }

  global(module: string, name: string): PyGlobal {
    const g = resolveGlobal(module, name)
    return g ?? this.refuse(`${module}.${name}`)
  }
  call(fn: unknown, args: unknown): unknown {
    if (!(fn instanceof PyGlobal)) return this.fail(`cannot call a ${describe(fn)}`)
    if (!Array.isArray(args)) return this.fail(`${fn.qualname} called with ${describe(args)} instead of an argument tuple`)
    if (fn.behaviour.kind !== 'call') return this.refuse(fn.qualname, 'it may be referenced but not called')
    const out = fn.behaviour.call(args, this)
    return typeof out === 'object' && out !== null && !Object.isFrozen(out) ? this.nest(out, args) : out
  }
  instantiate(cls: unknown, args: unknown): unknown {
    if (cls instanceof PyGlobal && cls.behaviour.kind === 'class') return new PyObject(cls)
    if (cls instanceof PyGlobal && cls.behaviour.kind === 'call') return this.call(cls, args)
    return cls instanceof PyGlobal ? this.refuse(cls.qualname, 'it may be referenced but not instantiated') : this.fail(`cannot instantiate a ${describe(cls)}`)
  }
  persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) return this.fail('a persistent id appears, but this pickle has no storages to refer to')
    return this.opts.persistentLoad(pid, this)
  }
  int(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text) || text.length > this.limits.maxIntBytes * 3) this.fail(`"${text.slice(0, 40)}" is not an integer`)
    return smallest(BigInt(text))
  }
  long(n: number): number | bigint {
    if (n > this.limits.maxIntBytes) this.fail(`an integer of ${n} bytes is above the ${this.limits.maxIntBytes}-byte limit`)
    const b = this.take(n)
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i])
    if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n)
    return smallest(v)
  }
}

const smallest = (v: bigint): number | bigint =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v

