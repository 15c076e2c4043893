/** The pickle opcodes (CPython Lib/pickletools.py names), each a small function over the VM state. */
import type { Vm } from './pickle-vm.ts'
import { NpArray, NpDtype, PyObject, describe, dictAttributes, isTuple } from './pickle-types.ts'

type Op = (vm: Vm) => void

const asList = (vm: Vm, v: unknown): unknown[] =>
  (Array.isArray(v) && !isTuple(v) ? v : vm.fail(`APPEND to a ${describe(v)}, expected a list`))
const asDict = (vm: Vm, v: unknown): Map<unknown, unknown> => (v instanceof Map ? v : vm.fail(`SETITEM on a ${describe(v)}, expected a dict`))

function setItems(vm: Vm, items: unknown[]): void {
  if (items.length % 2) vm.fail('SETITEMS with an odd number of values')
  const dict = asDict(vm, vm.top())
  for (let i = 0; i < items.length; i += 2) {
    vm.nest(dict, [items[i], items[i + 1]])
    dict.set(items[i], items[i + 1])
  }
}

function appendItems(vm: Vm, items: unknown[]): void {
  const list = asList(vm, vm.top())
  vm.nest(list, items)
  for (const v of items) list.push(v)
}

function dictFromPairs(vm: Vm, items: unknown[]): Map<unknown, unknown> {
  if (items.length % 2) vm.fail('DICT with an odd number of values')
  const d = new Map<unknown, unknown>()
  for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1])
  return vm.nest(d, items)
}

/** BUILD: the only objects that take state are numpy dtypes/arrays, ParameterDicts and dicts (attributes). */
function build(vm: Vm): void {
  const state = vm.pop()
  const obj = vm.top()
  if (obj instanceof PyObject) { obj.state = state; vm.nest(obj, [state]); return }
  if (obj instanceof Map) { dictAttributes.set(obj, state); return }
  const t = isTuple(state) ? state : vm.fail(`BUILD on a ${describe(obj)} with ${describe(state)} state`)
  if (obj instanceof NpDtype) {
    if (typeof t[1] === 'string') obj.byteorder = t[1]
    return
  }
  if (obj instanceof NpArray) {
    const [, shape, dtype, fortran, data] = t
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) vm.fail('numpy array state has a bad shape')
    if (!(dtype instanceof NpDtype)) vm.fail('numpy array state has no dtype')
    if (!(data instanceof Uint8Array) && !Array.isArray(data)) vm.fail('numpy array state has no data')
    Object.assign(obj, { shape: [...(shape as number[])], dtype, fortranOrder: fortran === true, data })
    vm.nest(obj, [data])
    return
  }
  vm.fail(`BUILD on a ${describe(obj)}`)
}

/** Protocol 0 STRING: a Python repr in quotes; only the escapes repr produces are accepted. */
function reprString(vm: Vm, text: string): string {
  const q = text[0]
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) vm.fail('STRING argument is not quoted')
  return unescape(vm, text.slice(1, -1), /\\(x[0-9a-fA-F]{2}|[\\'"nrt0])/g)
}
const unescape = (vm: Vm, s: string, re: RegExp): string => {
  const out = s.replace(re, (_, e: string) => {
    const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', '0': '\0' }
    return simple[e] ?? String.fromCodePoint(parseInt(e.slice(1), 16))
  })
  if (/\\(?![\\'"nrt0xuU])/.test(s)) vm.fail('unsupported escape in a text string')
  return out
}

function float(vm: Vm, text: string): number {
  const v = Number(text)
  if (text.trim() === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(text))) vm.fail(`"${text.slice(0, 40)}" is not a float`)
  return v
}

const copyOf = (b: Uint8Array): Uint8Array => b.slice()
const ops: Record<string, Op> = {
  '(': (vm) => vm.mark(),
  '.': (vm) => { vm.done = true },
  '0': (vm) => { if (vm.stack.length) vm.pop(); else vm.popMark() },
  '1': (vm) => { vm.popMark() },
  '2': (vm) => vm.push(vm.top()),
  F: (vm) => vm.push(float(vm, vm.line())),
  G: (vm) => vm.push(vm.dv(8).getFloat64(0, false)),
  I: (vm) => { const l = vm.line(); vm.push(l === '00' ? false : l === '01' ? true : vm.int(l)) },
  J: (vm) => vm.push(vm.dv(4).getInt32(0, true)),
  K: (vm) => vm.push(vm.u8()),
  M: (vm) => vm.push(vm.u16()),
  L: (vm) => vm.push(vm.int(vm.line().replace(/L$/, ''))),
  '\x8a': (vm) => vm.push(vm.long(vm.u8())),
  '\x8b': (vm) => { const n = vm.dv(4).getInt32(0, true); vm.push(n < 0 ? vm.fail('LONG4 with a negative length') : vm.long(n)) },
  N: (vm) => vm.push(null),
  '\x88': (vm) => vm.push(true),
  '\x89': (vm) => vm.push(false),
  S: (vm) => vm.push(reprString(vm, vm.line())),
  T: (vm) => { const n = vm.dv(4).getInt32(0, true); vm.push(vm.utf8(n < 0 ? vm.fail('BINSTRING with a negative length') : n)) },
  U: (vm) => vm.push(vm.utf8(vm.u8())),
  V: (vm) => vm.push(unescape(vm, vm.line(), /\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})/g)),
  X: (vm) => vm.push(vm.utf8(vm.u32())),
  '\x8c': (vm) => vm.push(vm.utf8(vm.u8())),
  '\x8d': (vm) => vm.push(vm.utf8(vm.u64())),
  B: (vm) => vm.push(copyOf(vm.take(vm.u32()))),
  C: (vm) => vm.push(copyOf(vm.take(vm.u8()))),
  '\x8e': (vm) => vm.push(copyOf(vm.take(vm.u64()))),
  '\x96': (vm) => vm.push(copyOf(vm.take(vm.u64()))),
  '\x97': (vm) => vm.fail('NEXT_BUFFER: out-of-band buffers are not supported'),
  '\x98': (vm) => { vm.top() },
  ')': (vm) => vm.push(vm.tuple([])),
  t: (vm) => vm.push(vm.tuple(vm.popMark())),
  '\x85': (vm) => vm.push(vm.tuple([vm.pop()])),
  '\x86': (vm) => { const b = vm.pop(); vm.push(vm.tuple([vm.pop(), b])) },
  '\x87': (vm) => { const c = vm.pop(); const b = vm.pop(); vm.push(vm.tuple([vm.pop(), b, c])) },
  ']': (vm) => vm.push([]),
  l: (vm) => { const items = vm.popMark(); vm.push(vm.nest(items, items)) },
  a: (vm) => appendItems(vm, [vm.pop()]),
  e: (vm) => appendItems(vm, vm.popMark()),
  '}': (vm) => vm.push(new Map()),
  d: (vm) => vm.push(dictFromPairs(vm, vm.popMark())),
  s: (vm) => { const v = vm.pop(); const k = vm.pop(); setItems(vm, [k, v]) },
  u: (vm) => setItems(vm, vm.popMark()),
  '\x8f': (vm) => vm.push(new Set()),
  '\x90': (vm) => {
    const items = vm.popMark()
    const set = vm.top()
    if (!(set instanceof Set)) vm.fail(`ADDITEMS on a ${describe(set)}`)
    vm.nest(set as Set<unknown>, items)
    for (const v of items) (set as Set<unknown>).add(v)
  },
  '\x91': (vm) => { const items = vm.popMark(); vm.push(vm.nest(new Set(items), items)) },
  g: (vm) => vm.memoGet(Number(vm.int(vm.line()))),
  h: (vm) => vm.memoGet(vm.u8()),
  j: (vm) => vm.memoGet(vm.u32()),
  p: (vm) => vm.memoPut(Number(vm.int(vm.line()))),
  q: (vm) => vm.memoPut(vm.u8()),
  r: (vm) => vm.memoPut(vm.u32()),
  '\x94': (vm) => vm.memoPut(vm.memo.size),
  c: (vm) => { const module = vm.line(); vm.push(vm.global(module, vm.line())) },
  '\x93': (vm) => {
    const name = vm.pop()
    const module = vm.pop()
    if (typeof module !== 'string' || typeof name !== 'string') vm.fail('STACK_GLOBAL with non-string module or name')
    vm.push(vm.global(module as string, name as string))
  },
  i: (vm) => { const module = vm.line(); const cls = vm.global(module, vm.line()); vm.push(vm.instantiate(cls, vm.tuple(vm.popMark()))) },
  o: (vm) => {
    const items = vm.popMark()
    if (items.length === 0) vm.fail('OBJ with nothing after its MARK (expected a class and its arguments)')
    vm.push(vm.instantiate(items[0], vm.tuple(items.slice(1))))
  },
  R: (vm) => { const args = vm.pop(); vm.push(vm.call(vm.pop(), args)) },
  '\x81': (vm) => { const args = vm.pop(); vm.push(vm.instantiate(vm.pop(), args)) },
  '\x92': (vm) => { vm.pop(); const args = vm.pop(); vm.push(vm.instantiate(vm.pop(), args)) },
  b: build,
  P: (vm) => vm.push(vm.persistent(vm.line())),
  Q: (vm) => vm.push(vm.persistent(vm.pop())),
  '\x80': (vm) => { const p = vm.u8(); if (p > 5) vm.fail(`pickle protocol ${p} is newer than 5`) },
  '\x95': (vm) => { const n = vm.u64(); if (n > vm.bytes.length - vm.pos) vm.fail(`FRAME of ${n} bytes runs past the end`) },
  '\x82': (vm) => vm.refuse(`copyreg extension ${vm.u8()}`),
  '\x83': (vm) => vm.refuse(`copyreg extension ${vm.u16()}`),
  '\x84': (vm) => vm.refuse(`copyreg extension ${vm.dv(4).getInt32(0, true)}`),
}

/** Handlers indexed by opcode byte. */
export const OPS: readonly (Op | undefined)[] = (() => {
  const table: (Op | undefined)[] = new Array(256).fill(undefined)
  for (const [k, fn] of Object.entries(ops)) table[k.charCodeAt(0)] = fn
  return table
})()
