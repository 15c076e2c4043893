/**
 * Reads an adapter file (kohya / LyCORIS / diffusers-PEFT LoRA family) into modules of float32 parts.
 *
 * Key layouts accepted:
 * - kohya / LyCORIS: `<module>.<part>`, the module name has no dots (`lora_unet_…_to_q.lora_down.weight`,
 *   `lora_te_…_q_proj.hada_w1_a`, `….alpha`); split at the first dot as A1111 does;
 * - diffusers / PEFT: `<dotted module path>.<part>` with parts `lora_A.weight` / `lora_B.weight`, `lora.down.weight` /
 *   `lora.up.weight`, `lora_linear_layer.down.weight` / `….up.weight`, and the old attention-processor form
 *   `….attn1.processor.to_q_lora.down.weight`; module paths are rewritten to kohya names (`kohyaModuleName`);
 * - `bundle_emb.<name>.<…>`: embeddings bundled in a LoRA, kept aside for embedding.ts.
 */
import { basename, extname } from 'node:path'
import type { HostTensor } from '../core/host-tensor.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { openTensorFile } from '../formats/open.ts'
import { kohyaModuleName } from './kohya-keys.ts'
import type { Adapter, AdapterModule } from './types.ts'

/** Dotted-path suffixes (diffusers / PEFT) and the kohya part they stand for. */
const PEFT_PARTS: readonly (readonly [string, string])[] = [
  ['.lora_A.weight', 'lora_down.weight'], ['.lora_B.weight', 'lora_up.weight'],
  ['.lora.down.weight', 'lora_down.weight'], ['.lora.up.weight', 'lora_up.weight'],
  ['.lora_linear_layer.down.weight', 'lora_down.weight'], ['.lora_linear_layer.up.weight', 'lora_up.weight'],
  ['.lora_down.weight', 'lora_down.weight'], ['.lora_up.weight', 'lora_up.weight'], ['.lora_mid.weight', 'lora_mid.weight'],
  ['.alpha', 'alpha'], ['.dora_scale', 'dora_scale'],
  // PEFT DoRA: the magnitude of each OUTPUT row, stored flat [out]; reshaped to [out, 1] below so it is not ambiguous.
  ['.lora_magnitude_vector', 'dora_scale'], ['.lora_magnitude_vector.weight', 'dora_scale'],
]
const PROCESSOR = /^(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(down|up)\.weight$/

interface SplitKey { readonly module: string; readonly part: string; readonly dotted: boolean }

/** Splits one tensor key into module path and part, or undefined when no known layout fits. */
export function splitAdapterKey(key: string): SplitKey | undefined {
  const proc = PROCESSOR.exec(key)
  if (proc) return { module: `${proc[1]}.${proc[2] === 'to_out' ? 'to_out.0' : proc[2]}`, part: `lora_${proc[3]}.weight`, dotted: true }
  const first = key.indexOf('.')
  if (first < 0) return undefined
  const head = key.slice(0, first)
  if (/^(lora|lycoris|oft)_/.test(head)) return { module: head, part: key.slice(first + 1), dotted: false }
  for (const [suffix, part] of PEFT_PARTS) {
    if (key.endsWith(suffix)) return { module: key.slice(0, -suffix.length), part, dotted: true }
  }
  return undefined
}

export interface AdapterTensors {
  readonly file: string
  /** Defaults to the file stem. */
  readonly name?: string
  readonly metadata?: Readonly<Record<string, string>>
  readonly tensors: ReadonlyMap<string, HostTensor>
}

/** Groups float32 tensors into modules. Keys that fit no layout become one-part modules named by the key itself. */
export function adapterFromTensors(input: AdapterTensors): Adapter {
  const hasTe2 = [...input.tensors.keys()].some((k) => k.startsWith('text_encoder_2.'))
  const modules = new Map<string, { keys: string[]; parts: Map<string, HostTensor> }>()
  const bundled = new Map<string, HostTensor>()
  const unparsed: string[] = []
  for (const [key, t] of input.tensors) {
    if (key.startsWith('bundle_emb.')) { bundled.set(key.slice('bundle_emb.'.length), t); continue }
    const split = splitAdapterKey(key)
    if (!split) { unparsed.push(key); continue }
    const name = split.dotted ? kohyaModuleName(split.module, hasTe2) : split.module
    let m = modules.get(name)
    if (!m) { m = { keys: [], parts: new Map() }; modules.set(name, m) }
    m.keys.push(key)
    const perOutput = key.includes('.lora_magnitude_vector') && t.shape.length === 1
    m.parts.set(split.part, perOutput ? { shape: [t.shape[0], 1], data: t.data } : t)
  }
  const list: AdapterModule[] = [...modules].map(([name, m]) => ({ name, keys: m.keys, parts: m.parts }))
  return {
    file: input.file,
    name: input.name ?? basename(input.file, extname(input.file)),
    metadata: input.metadata ?? {},
    modules: list,
    bundledEmbeddings: bundled,
    unparsedKeys: unparsed,
  }
}

/** Reads every tensor of an open source as float32. */
export async function readAllF32(source: TensorSource): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>()
  for (const key of source.keys()) out.set(key, { shape: [...source.info(key).shape], data: await source.readF32(key) })
  return out
}

/** Opens and reads an adapter file (safetensors or torch pickle, by content). */
export async function loadAdapter(file: string, open: (f: string) => Promise<TensorSource> = openTensorFile): Promise<Adapter> {
  const source = await open(file)
  try {
    return adapterFromTensors({ file, metadata: source.metadata, tensors: await readAllF32(source) })
  } finally {
    await source.close()
  }
}
