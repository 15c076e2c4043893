/*
 * The allow-list of Python globals a checkpoint pickle may name, after A1111's RestrictedUnpickler
 * (modules/safe.py @ c8a5322d): collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter /
 * _rebuild_device_tensor_from_numpy, torch storage classes and dtypes, torch.nn ParameterDict, numpy scalar / dtype /
 * ndarray reconstruction, _codecs.encode, set, and Lightning's ModelCheckpoint class (referenced as a dict key).
 * Each entry is a small TypeScript reimplementation; no Python code is ever run. Anything else is refused by the VM.
 */
import type { DType } from '../core/dtype.ts'
import { DTYPE_BYTES } from '../core/dtype.ts'
import { describe, NpArray, NpDtype, PyGlobal, TorchStorage, TorchTensor, type CallContext, type GlobalBehaviour } from './pickle-types.ts'

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  UntypedStorage: 'U8', Float8_e4m3fnStorage: 'F8_E4M3', Float8_e5m2Storage: 'F8_E5M2',
}
const TORCH_DTYPES = ['float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'float', 'half', 'double', 'long']

/** numpy type codes ('<f4') → dtype names. */
const NUMPY_DTYPES: Readonly<Record<string, DType>> = {
  f8: 'F64', f4: 'F32', f2: 'F16', i8: 'I64', i4: 'I32', i2: 'I16', i1: 'I8', u8: 'U64', u4: 'U32', u2: 'U16', u1: 'U8', b1: 'BOOL',
  float64: 'F64', float32: 'F32', float16: 'F16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8',
  uint64: 'U64', uint32: 'U32', uint16: 'U16', uint8: 'U8', bool: 'BOOL',
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isIndexList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isIndex)

function rebuildTensor(args: readonly unknown[], ctx: CallContext): TorchTensor {
  const [storage, offset, size, stride] = args
  if (!(storage instanceof TorchStorage)) return ctx.fail('_rebuild_tensor: the first argument is not a storage')
  if (offset === undefined) return ctx.fail('_rebuild_tensor: called without a storage offset (expected storage, offset, size, stride)')
  // A number is shown as is; anything else by its Python-ish type (a dict would print as "[object Object]").
  if (!isIndex(offset)) return ctx.fail(`_rebuild_tensor: storage offset ${typeof offset === 'number' || typeof offset === 'bigint' ? String(offset) : `(a ${describe(offset)})`} is not a non-negative integer`)
  if (!isIndexList(size) || !isIndexList(stride) || size.length !== stride.length) {
    return ctx.fail('_rebuild_tensor: size and stride are not equal-length lists of non-negative integers')
  }
  return new TorchTensor(storage, offset, [...size], [...stride])
}

function unwrapParameter(args: readonly unknown[], ctx: CallContext): TorchTensor {
  if (!(args[0] instanceof TorchTensor)) return ctx.fail('_rebuild_parameter: the data is not a tensor')
  return args[0]
}

export function numpyDType(dt: unknown): DType | undefined {
  return dt instanceof NpDtype && Object.hasOwn(NUMPY_DTYPES, dt.code) ? NUMPY_DTYPES[dt.code] : undefined
}

/** Little-endian bytes of an array stored in `byteorder`. */
function toLittleEndian(bytes: Uint8Array, width: number, byteorder: string): Uint8Array {
  if (byteorder !== '>' || width === 1) return bytes
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i += width) for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j]
  return out
}

/** A numeric numpy array as a tensor over an in-memory storage (C or Fortran order). */
export function tensorFromNumpy(a: NpArray, ctx: CallContext): TorchTensor {
  const dtype = numpyDType(a.dtype)
  if (!dtype || !(a.data instanceof Uint8Array)) return ctx.fail(`numpy array of dtype ${a.dtype?.code ?? '?'} cannot be a tensor`)
  const width = DTYPE_BYTES[dtype]
  const numel = a.shape.reduce((x, y) => x * y, 1)
  if (a.data.length !== numel * width) return ctx.fail(`numpy array [${a.shape.join(', ')}] of ${dtype} holds ${a.data.length} bytes`)
  const stride = a.shape.map((_, i) => {
    const dims = a.fortranOrder ? a.shape.slice(0, i) : a.shape.slice(i + 1)
    return dims.reduce((x, y) => x * y, 1)
  })
  const storage = new TorchStorage(dtype, '', numel, toLittleEndian(a.data, width, a.dtype?.byteorder ?? '<'))
  return new TorchTensor(storage, 0, [...a.shape], stride)
}

function numpyScalar(args: readonly unknown[], ctx: CallContext): number | bigint | boolean {
  const [dt, raw] = args
  const dtype = numpyDType(dt)
  if (!dtype || !(raw instanceof Uint8Array) || raw.length !== DTYPE_BYTES[dtype]) return ctx.fail('numpy scalar: unsupported dtype or wrong byte count')
  const dv = new DataView(toLittleEndian(raw, raw.length, (dt as NpDtype).byteorder).slice().buffer)
  const big = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)
  const read: Record<DType, () => number | bigint | boolean> = {
    F64: () => dv.getFloat64(0, true), F32: () => dv.getFloat32(0, true), F16: () => halfOf(dv.getUint16(0, true)),
    I64: () => big(dv.getBigInt64(0, true)), U64: () => big(dv.getBigUint64(0, true)), I32: () => dv.getInt32(0, true),
    U32: () => dv.getUint32(0, true), I16: () => dv.getInt16(0, true), U16: () => dv.getUint16(0, true),
    I8: () => dv.getInt8(0), U8: () => dv.getUint8(0), BOOL: () => dv.getUint8(0) !== 0,
    BF16: () => ctx.fail('numpy has no bfloat16'), F8_E4M3: () => ctx.fail('numpy has no float8'), F8_E5M2: () => ctx.fail('numpy has no float8'),
  }
  return read[dtype]()
}

function halfOf(h: number): number {
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  const s = h & 0x8000 ? -1 : 1
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

function orderedDict(args: readonly unknown[], ctx: CallContext): Map<unknown, unknown> {
  const init = args[0]
  if (init === undefined || init === null) return new Map()
  if (init instanceof Map) return new Map(init)
  if (Array.isArray(init) && init.every((p) => Array.isArray(p) && p.length === 2)) return new Map(init as [unknown, unknown][])
  return ctx.fail('OrderedDict: the argument is not a list of pairs')
}

function codecsEncode(args: readonly unknown[], ctx: CallContext): Uint8Array {
  const [text, enc = 'utf-8'] = args
  if (typeof text !== 'string') return ctx.fail('_codecs.encode: the first argument is not a string')
  if (enc === 'latin1' || enc === 'latin-1') {
    const out = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c > 255) return ctx.fail('_codecs.encode: a character is outside latin-1')
      out[i] = c
    }
    return out
  }
  if (enc === 'utf-8' || enc === 'utf8') return new TextEncoder().encode(text)
  return ctx.fail(`_codecs.encode: encoding ${JSON.stringify(enc)} is not supported`)
}

const call = (fn: (args: readonly unknown[], ctx: CallContext) => unknown): GlobalBehaviour => ({ kind: 'call', call: fn })
const VALUE: GlobalBehaviour = { kind: 'value' }
const makeSet = call((args, ctx) => {
  const it = args[0] ?? []
  if (!Array.isArray(it) && !(it instanceof Set)) return ctx.fail('set: the argument is not a list')
  return new Set(it)
})

const MULTIARRAY: Readonly<Record<string, GlobalBehaviour>> = {
  scalar: call(numpyScalar),
  _reconstruct: call(() => new NpArray()),
}

const TABLE: Readonly<Record<string, Readonly<Record<string, GlobalBehaviour>>>> = {
  collections: { OrderedDict: call(orderedDict) },
  typing: { OrderedDict: call(orderedDict) },
  'torch._utils': {
    _rebuild_tensor: call(rebuildTensor),
    _rebuild_tensor_v2: call(rebuildTensor),
    _rebuild_parameter: call(unwrapParameter),
    _rebuild_parameter_with_state: call(unwrapParameter),
    _rebuild_device_tensor_from_numpy: call((args, ctx) => (args[0] instanceof NpArray ? tensorFromNumpy(args[0], ctx) : ctx.fail('_rebuild_device_tensor_from_numpy: not a numpy array'))),
  },
  torch: {
    ...Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([name, dtype]) => [name, { kind: 'storage', dtype } as const])),
    ...Object.fromEntries(TORCH_DTYPES.map((name) => [name, VALUE])),
    Size: call((args, ctx) => (isIndexList(args[0]) ? Object.freeze([...args[0]]) : ctx.fail('torch.Size: not a list of sizes'))),
  },
  'torch.nn.modules.container': { ParameterDict: { kind: 'class' } },
  'numpy.core.multiarray': MULTIARRAY,
  'numpy._core.multiarray': MULTIARRAY,
  numpy: {
    dtype: call((args, ctx) => (typeof args[0] === 'string' ? new NpDtype(args[0]) : ctx.fail('numpy.dtype: the type code is not a string'))),
    ndarray: VALUE,
  },
  _codecs: { encode: call(codecsEncode) },
  builtins: { set: makeSet, frozenset: makeSet },
  __builtin__: { set: makeSet, frozenset: makeSet },
  'pytorch_lightning.callbacks': { model_checkpoint: VALUE },
  'pytorch_lightning.callbacks.model_checkpoint': { ModelCheckpoint: VALUE },
}

/** The allow-listed global, or undefined when the pickle must be refused. */
export function resolveGlobal(module: string, name: string): PyGlobal | undefined {
  const mod = Object.hasOwn(TABLE, module) ? TABLE[module] : undefined
  const behaviour = mod && Object.hasOwn(mod, name) ? mod[name] : undefined
  return behaviour ? new PyGlobal(module, name, behaviour) : undefined
}
