import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unpickle } from './pickle.ts'
import { TorchTensor } from './pickle-types.ts'
import { tensorFromNumpy } from './pickle-globals.ts'

/** Pickle bytes from latin-1 strings and byte arrays. */
const P = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))))
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
const FILE = '/models/evil.ckpt'
const load = (bytes: Uint8Array): unknown => unpickle(bytes, { file: FILE, what: 'data.pkl' }).value
const refusal = (global: string): { name: string; message: string } => ({
  name: 'PickleSecurityError',
  message: `evil.ckpt: refused to load: the pickle references "${global}", which is not on the allow-list of tensor-rebuilding globals. `
    + 'Nothing was executed. Hint: this file may be malicious; if you trust its source, convert it with the tool that made it to .safetensors.',
})
const malformed = (detail: string): { name: string; message: string } => ({ name: 'TensorFileError', message: `evil.ckpt: data.pkl: ${detail}` })

test('hostile globals are refused by name and nothing runs', () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'sdloom-pk-')), 'pwned')
  const u8 = (s: string): number[] => [s.length, ...[...s].map((c) => c.charCodeAt(0))]
  const cases: [Uint8Array, string][] = [
    [P(`cos\nsystem\n(S'touch ${marker}'\ntR.`), 'os.system'],
    [P('\x80\x02cposix\nsystem\nX', [marker.length + 6, 0, 0, 0], `touch ${marker}\x85R.`), 'posix.system'],
    [P('\x80\x04\x8c', u8('builtins'), '\x94\x8c', u8('exec'), '\x94\x93\x94\x8c', u8(`open('${marker}','w')`), '\x85R.'), 'builtins.exec'],
    [P('\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R.'), 'builtins.eval'],
    [P(`(S'touch ${marker}'\nisubprocess\nPopen\n.`), 'subprocess.Popen'],
    [P('\x80\x02crunpy\n_run_code\n.'), 'runpy._run_code'],
    [P('\x80\x04\x8c', u8('evilmod'), '\x8c', u8('thing'), '\x93.'), 'evilmod.thing'],
    [P('\x80\x02}X\x01\x00\x00\x00kcnt\nsystem\ns.'), 'nt.system'],
    [P('\x80\x02\x82\x01.'), 'copyreg extension 1'],
  ]
  for (const [bytes, global] of cases) assert.throws(() => load(bytes), refusal(global))
  assert.equal(existsSync(marker), false)
})

test('allow-listed classes may be referenced but not called', () => {
  assert.throws(() => load(P('\x80\x02ctorch\nFloatStorage\n)R.')), {
    name: 'PickleSecurityError', message: /references "torch.FloatStorage", which is not on the allow-list of tensor-rebuilding globals \(it may be referenced but not called\)/,
  })
})

test('nesting 100,000 deep fails fast with a clear error (marks, lists, tuples, dicts)', () => {
  const n = 100_000
  const t0 = performance.now()
  assert.throws(() => load(P('\x80\x02' + '('.repeat(n) + 'N' + 't'.repeat(n) + '.')),
    malformed('byte 1002: MARKs nest deeper than 1000 levels (malformed or hostile pickle)'))
  assert.throws(() => load(P('\x80\x02' + ']'.repeat(n) + 'a'.repeat(n - 1) + '.')),
    malformed(`byte ${2 + n + 999}: objects nest deeper than 1000 levels (malformed or hostile pickle)`))
  assert.throws(() => load(P('\x80\x02N' + '\x85'.repeat(n) + '.')),
    malformed('byte 1003: objects nest deeper than 1000 levels (malformed or hostile pickle)'))
  assert.throws(() => load(P('\x80\x02' + '}X\x01\x00\x00\x00k'.repeat(n) + ']' + 's'.repeat(n) + '.')),
    malformed(`byte ${2 + 7 * n + 1 + 999}: objects nest deeper than 1000 levels (malformed or hostile pickle)`))
  assert.ok(performance.now() - t0 < 2000, 'took too long')
})

test('lengths are checked against the remaining bytes before allocating', () => {
  assert.throws(() => load(P('\x80\x02X', [0xf0, 0xff, 0xff, 0xff], 'abc.')),
    malformed('byte 2: needs 4294967280 bytes but only 4 remain (truncated or corrupt pickle)'))
  assert.throws(() => load(P('\x80\x04\x8e', [0, 0, 0, 0, 0, 0, 0, 0x40], '.')),
    malformed(`byte 2: needs ${2 ** 62} bytes but only 1 remain (truncated or corrupt pickle)`))
  assert.throws(() => load(P('\x80\x02\x8b', [0, 0, 0, 0x10], '.')), malformed('byte 2: an integer of 268435456 bytes is above the 1024-byte limit'))
  assert.throws(() => load(P('\x80\x04\x95', [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], 'N.')), malformed('byte 2: FRAME of 4294967295 bytes runs past the end'))
})

test('malformed streams: unknown opcode, missing STOP, underflow, bad memo, leftovers', () => {
  assert.throws(() => load(P('\x80\x02\xff')), malformed('byte 2: unknown opcode 0xff'))
  assert.throws(() => load(P('\x80\x02N')), malformed('byte 3: the pickle ends without a STOP opcode (truncated)'))
  assert.throws(() => load(P('\x80\x02a.')), malformed('byte 2: stack underflow'))
  assert.throws(() => load(P('\x80\x02h\x05.')), malformed('byte 2: memo index 5 was never stored'))
  assert.throws(() => load(P('\x80\x02NN.')), malformed('byte 4: STOP with 2 values and 0 open MARKs on the stack'))
  assert.throws(() => load(P('\x80\x02K')), malformed('byte 2: needs 1 bytes but only 0 remain (truncated or corrupt pickle)'))
  assert.throws(() => load(P('\x80\x06N.')), malformed('byte 0: pickle protocol 6 is newer than 5'))
  assert.throws(() => load(P('\x80\x02X\x02\x00\x00\x00\xff\xfe.')), malformed('byte 2: a string is not valid UTF-8'))
})

/** pickle.dumps(v, protocol=p) for v = {'s': 'héllo', 'i': -5, 'big': 2**70, 'neg': -(2**65), 'f': 1.5, 't': (1, 2, 3),
 * 'l': [None, True, False], 'b': b'\x00\x01', 'set': {7}, 'fs': frozenset([8]), 'od': OrderedDict([('k', 1)]),
 * 'e': (), 'el': [], 'u8': 300, 'u16': 70000} (CPython 3.12). */
const SAMPLES: Record<number, string> = {
  0: '286470300a56730a70310a5668e96c6c6f0a70320a7356690a70330a492d350a73566269670a70340a4c313138303539313632303731373431313330333432344c0a73566e65670a70350a4c2d33363839333438383134373431393130333233324c0a7356660a70360a46312e350a7356740a70370a2849310a49320a49330a7470380a73566c0a70390a286c7031300a4e614930310a614930300a617356620a7031310a635f636f646563730a656e636f64650a7031320a28565c7530303030010a7031330a566c6174696e310a7031340a747031350a527031360a73567365740a7031370a635f5f6275696c74696e5f5f0a7365740a7031380a28286c7031390a49370a61747032300a527032310a735666730a7032320a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7032330a28286c7032340a49380a61747032350a527032360a73566f640a7032370a63636f6c6c656374696f6e730a4f726465726564446963740a7032380a2874527032390a566b0a7033300a49310a737356650a7033310a28747356656c0a7033320a286c7033330a735675380a7033340a493330300a73567531360a7033350a4937303030300a732e',
  1: '7d7100285801000000737101580600000068c3a96c6c6f710258010000006971034afbffffff580300000062696771044c313138303539313632303731373431313330333432344c0a58030000006e656771054c2d33363839333438383134373431393130333233324c0a5801000000667106473ff80000000000005801000000747107284b014b024b0374710858010000006c71095d710a284e4930310a4930300a65580100000062710b635f636f646563730a656e636f64650a710c2858020000000001710d58060000006c6174696e31710e74710f52711058030000007365747111635f5f6275696c74696e5f5f0a7365740a7112285d71134b0761747114527115580200000066737116635f5f6275696c74696e5f5f0a66726f7a656e7365740a7117285d71184b086174711952711a58020000006f64711b63636f6c6c656374696f6e730a4f726465726564446963740a711c2952711d58010000006b711e4b0173580100000065711f295802000000656c71205d71215802000000753871224d2c01580300000075313671234a70110100752e',
  2: '80027d7100285801000000737101580600000068c3a96c6c6f710258010000006971034afbffffff580300000062696771048a0900000000000000004058030000006e656771058a090000000000000000fe5801000000667106473ff800000000000058010000007471074b014b024b0387710858010000006c71095d710a284e888965580100000062710b635f636f646563730a656e636f64650a710c58020000000001710d58060000006c6174696e31710e86710f52711058030000007365747111635f5f6275696c74696e5f5f0a7365740a71125d71134b0761857114527115580200000066737116635f5f6275696c74696e5f5f0a66726f7a656e7365740a71175d71184b086185711952711a58020000006f64711b63636f6c6c656374696f6e730a4f726465726564446963740a711c2952711d58010000006b711e4b0173580100000065711f295802000000656c71205d71215802000000753871224d2c01580300000075313671234a70110100752e',
  4: '800495cc000000000000007d94288c0173948c0668c3a96c6c6f948c0169944afbffffff8c03626967948a090000000000000000408c036e6567948a090000000000000000fe8c016694473ff80000000000008c0174944b014b024b0387948c016c945d94284e8889658c01629443020001948c03736574948f94284b07908c02667394284b0891948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b944b01738c016594298c02656c945d948c027538944d2c018c03753136944a70110100752e',
  5: '800595cc000000000000007d94288c0173948c0668c3a96c6c6f948c0169944afbffffff8c03626967948a090000000000000000408c036e6567948a090000000000000000fe8c016694473ff80000000000008c0174944b014b024b0387948c016c945d94284e8889658c01629443020001948c03736574948f94284b07908c02667394284b0891948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b944b01738c016594298c02656c945d948c027538944d2c018c03753136944a70110100752e',
}

test('protocols 0, 1, 2, 4 and 5 decode to the same values', () => {
  for (const [p, h] of Object.entries(SAMPLES)) {
    const v = load(hex(h)) as Map<string, unknown>
    assert.deepEqual(new Map([...v].filter(([k]) => !['t', 'e', 'od'].includes(k))), new Map<string, unknown>([
      ['s', 'héllo'], ['i', -5], ['big', 2n ** 70n], ['neg', -(2n ** 65n)], ['f', 1.5], ['l', [null, true, false]],
      ['b', new Uint8Array([0, 1])], ['set', new Set([7])], ['fs', new Set([8])], ['el', []], ['u8', 300], ['u16', 70000],
    ]), `protocol ${p}`)
    assert.deepEqual([...(v.get('t') as number[])], [1, 2, 3])
    assert.ok(Object.isFrozen(v.get('t')) && Object.isFrozen(v.get('e')))
    assert.deepEqual(v.get('od'), new Map([['k', 1]]))
  }
})

/** pickle.dumps(v, protocol=p) for v = {'f': np.float32(2.5), 'i': np.int64(-3), 'a': np.arange(6, dtype='<f4').reshape(2, 3),
 * 'F': np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)), 'be': np.array([1, -2], dtype='>i2')} (numpy 2.4). */
const NUMPY: Record<number, string> = {
  2: '80027d7100285801000000667101636e756d70792e5f636f72652e6d756c746961727261790a7363616c61720a7102636e756d70790a64747970650a71035802000000663471048988877105527106284b0358010000003c71074e4e4e4affffffff4affffffff4b0074710862635f636f646563730a656e636f64650a7109580400000000002040710a58060000006c6174696e31710b86710c52710d86710e52710f5801000000697110680268035802000000693871118988877112527113284b0368074e4e4e4affffffff4affffffff4b007471146268095810000000c3bdc3bfc3bfc3bfc3bfc3bfc3bfc3bf7115680b867116527117867118527119580100000061711a636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a711b636e756d70790a6e6461727261790a711c4b0085711d6809580100000062711e680b86711f527120877121527122284b014b024b038671236806896809581b000000000000000000c2803f00000040000040400000c280400000c2a0407124680b867125527126747127625801000000467128681b681c4b00857129682087712a52712b284b014b024b0386712c680358020000006638712d898887712e52712f284b0368074e4e4e4affffffff4affffffff4b0074713062886809583100000000000000000000000000000000000840000000000000c3b03f0000000000001040000000000000004000000000000014407131680b86713252713374713462580200000062657135681b681c4b008571366820877137527138284b014b02857139680358020000006932713a898887713b52713c284b0358010000003e713d4e4e4e4affffffff4affffffff4b0074713e6289680958060000000001c3bfc3be713f680b86714052714174714262752e',
  4: '800495c3010000000000007d94288c0166948c166e756d70792e5f636f72652e6d756c74696172726179948c067363616c61729493948c056e756d7079948c0564747970659493948c02663494898887945294284b038c013c944e4e4e4affffffff4affffffff4b0074946243040000204094869452948c016994680468078c02693894898887945294284b03680b4e4e4e4affffffff4affffffff4b007494624308fdffffffffffffff94869452948c01619468028c0c5f7265636f6e73747275637494939468058c076e6461727261799493944b0085944301629487945294284b014b024b038694680a894318000000000000803f0000004000004040000080400000a040947494628c014694681a681c4b008594681e87945294284b014b024b03869468078c02663894898887945294284b03680b4e4e4e4affffffff4affffffff4b0074946288433000000000000000000000000000000840000000000000f03f000000000000104000000000000000400000000000001440947494628c02626594681a681c4b008594681e87945294284b014b02859468078c02693294898887945294284b038c013e944e4e4e4affffffff4affffffff4b007494628943040001fffe94749462752e',
}

test('numpy scalars and arrays (C order, Fortran order, big-endian) are rebuilt without numpy', () => {
  const fail = (d: string): never => { throw new Error(d) }
  for (const [p, h] of Object.entries(NUMPY)) {
    const v = load(hex(h)) as Map<string, unknown>
    assert.equal(v.get('f'), 2.5, `protocol ${p}`)
    assert.equal(v.get('i'), -3)
    const a = tensorFromNumpy(v.get('a') as never, { fail })
    assert.ok(a instanceof TorchTensor)
    assert.deepEqual([a.storage.dtype, a.shape, a.stride], ['F32', [2, 3], [3, 1]])
    assert.deepEqual([...new Float32Array(a.storage.bytes!.slice().buffer)], [0, 1, 2, 3, 4, 5])
    const f = tensorFromNumpy(v.get('F') as never, { fail })
    assert.deepEqual([f.storage.dtype, f.shape, f.stride], ['F64', [2, 3], [1, 2]])
    assert.deepEqual([...new Float64Array(f.storage.bytes!.slice().buffer)], [0, 3, 1, 4, 2, 5])
    const be = tensorFromNumpy(v.get('be') as never, { fail })
    assert.deepEqual([...new Int16Array(be.storage.bytes!.slice().buffer)], [1, -2])
  }
})

test('protocol 0 text arguments are ISO-8859-1, not windows-1252', () => {
  assert.equal(load(P('V\x80\\u20ac\n.')), '\u0080\u20ac')
})

test('an OrderedDict state dict keeps its items; BUILD attributes (_metadata) are set aside', async () => {
  // od = OrderedDict([('w', 1), ('b', 2)]); od._metadata = OrderedDict([('', {'version': 1})]); pickle.dumps(od, 2)
  const od = load(hex('800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000007771024b0158010000006271034b02757d710458090000005f6d657461646174617105680029527106580000000071077d7108580700000076657273696f6e71094b01737373622e'))
  assert.deepEqual(od, new Map([['w', 1], ['b', 2]]))
  const { dictAttributes } = await import('./pickle.ts')
  assert.deepEqual(dictAttributes.get(od as Map<unknown, unknown>), new Map([['_metadata', new Map([['', new Map([['version', 1]])]])]]))
})
