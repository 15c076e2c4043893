import { test } from 'node:test'
import assert from 'node:assert/strict'
import { flattenCheckpoint } from './ckpt-flatten.ts'
import { unpickle } from './pickle.ts'
import { storagePersistentLoad } from './ckpt.ts'
import { TorchStorage, TorchTensor } from './pickle-types.ts'

const P = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'))
const str = (s: string): string => `X${String.fromCharCode(s.length)}\x00\x00\x00${s}`
const tensor = (): TorchTensor => new TorchTensor(new TorchStorage('F32', '0', 4), 0, [2, 2], [2, 1])

test('a ParameterDict (as older A1111 embeddings pickle string_to_param) flattens to its parameters', () => {
  const v2 = 'ctorch._utils\n_rebuild_tensor_v2\n((' + str('storage') + 'ctorch\nFloatStorage\n' + str('0') + str('cpu')
    + 'K\x04tQK\x00(K\x02K\x02t(K\x02K\x01t\x89ccollections\nOrderedDict\n)RtR'
  const param = `ctorch._utils\n_rebuild_parameter\n(${v2}\x88ccollections\nOrderedDict\n)RtR`
  const pickle = `\x80\x02}${str('string_to_param')}ctorch.nn.modules.container\nParameterDict\n)\x81`
    + `}${str('_parameters')}ccollections\nOrderedDict\n)R${str('*')}${param}ss${str('training')}\x88sbs`
    + `${str('name')}${str('emb')}s.`
  const storages = new Map<string, TorchStorage>()
  const { value } = unpickle(P(pickle), { file: 'emb.pt', what: 'data.pkl', persistentLoad: storagePersistentLoad(storages) })
  const flat = flattenCheckpoint('emb.pt', value)
  assert.deepEqual([...flat.tensors.keys()], ['string_to_param.*'])
  assert.deepEqual(flat.tensors.get('string_to_param.*')?.shape, [2, 2])
  assert.deepEqual({ ...flat.metadata }, { name: 'emb' })
})

test('beside a state_dict: scalars kept as metadata, list contents and tensors dropped', () => {
  const root = new Map<unknown, unknown>([
    ['state_dict', new Map<unknown, unknown>([['w', tensor()], ['nested', new Map<unknown, unknown>([['b', tensor()], [3, 'x']])]])],
    ['optimizer_states', [new Map<unknown, unknown>([['lr', 0.1], ['params', [0, 1, 2]], ['m', tensor()]])]],
    ['global_step', 5n],
    ['model_ema', new Map([['w', tensor()]])],
  ])
  const flat = flattenCheckpoint('m.ckpt', root)
  assert.deepEqual([...flat.tensors.keys()], ['w', 'nested.b'])
  assert.deepEqual({ ...flat.metadata }, { 'nested.3': 'x', global_step: '5' })
})

test('reference cycles and absurd nesting are refused with the key path', () => {
  const { value } = unpickle(P('\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s.'), { file: 'x.pt', what: 'data.pkl' })
  assert.throws(() => flattenCheckpoint('x.pt', value), { name: 'TensorFileError', message: 'x.pt: tensor "a": contains itself (a reference cycle); not a state dict' })
  let deep: unknown = tensor()
  for (let i = 0; i < 70; i++) deep = new Map([['k', deep]])
  assert.throws(() => flattenCheckpoint('d.pt', deep), { message: `d.pt: tensor "${Array(65).fill('k').join('.')}": nested more than 64 levels deep; not a state dict` })
  assert.throws(() => flattenCheckpoint('s.pt', 'text'), { message: 's.pt: the pickle holds a string, expected a dict of tensors (a state dict)' })
})
