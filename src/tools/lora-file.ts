/**
 * Plain LoRA modules (kohya `lora_down` / `lora_up` / `alpha`) as the LoRA tools read and write them. Reading goes
 * through the adapter layer's parser (so PEFT/diffusers names arrive in kohya form); only plain low-rank modules are
 * accepted: LoHa/LoKr/Tucker (`lora_mid`)/DoRA are not a product up·down and are refused by name.
 */
import { basename } from 'node:path'
import { InputError } from '../core/errors.ts'
import { numel } from '../core/host-tensor.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { ARCH_NAMES, guessAdapterArch } from '../adapters/plan.ts'
import type { Adapter, Arch } from '../adapters/types.ts'
import { openTensorFile } from '../formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../formats/safetensors-writer.ts'
import type { TargetDType } from './convert.ts'

export interface LoraModule {
  readonly name: string
  /** [out, rank] (the file's shape may be [out, rank, 1, 1]). */
  readonly up: Float32Array
  /** [rank, inner], inner = in·kh·kw. */
  readonly down: Float32Array
  readonly out: number
  readonly rank: number
  readonly inner: number
  readonly alpha: number
  /** Shape of `lora_down.weight` as stored ([rank, in] or [rank, in, kh, kw]); `lora_up` follows from it. */
  readonly downShape: readonly number[]
}

export interface LoraFile {
  readonly file: string
  readonly metadata: Readonly<Record<string, string>>
  readonly modules: readonly LoraModule[]
  /** dtype of the first lora_up tensor (the output default). */
  readonly dtype: TargetDType
  /** The model family it was made for, as far as names, widths and metadata tell. */
  readonly family: LoraFamily
}

/** `arch` when known; else only whether it is SDXL (text-encoder prefixes lora_te1_/lora_te2_ vs lora_te_). */
export interface LoraFamily { readonly arch?: Arch; readonly sdxl?: boolean; readonly label: string }

function loraFamily(adapter: Adapter): LoraFamily {
  const arch = guessAdapterArch(adapter)
  if (arch) return { arch, sdxl: arch === 'sdxl', label: ARCH_NAMES[arch] }
  if (adapter.modules.some((m) => /^lora_te[12]_/.test(m.name))) return { arch: 'sdxl', sdxl: true, label: ARCH_NAMES.sdxl }
  if (adapter.modules.some((m) => m.name.startsWith('lora_te_'))) return { sdxl: false, label: 'SD1.x or SD2.x' }
  return { label: 'an unknown model' }
}

/** False when two LoRAs are certainly for different model families. */
export const sameFamily = (a: LoraFamily, b: LoraFamily): boolean =>
  (a.sdxl === undefined || b.sdxl === undefined || a.sdxl === b.sdxl) && (a.arch === undefined || b.arch === undefined || a.arch === b.arch)

const OTHER_PARTS = ['lora_mid.weight', 'dora_scale', 'hada_w1_a', 'lokr_w1', 'lokr_w1_a', 'oft_blocks', 'diff', 'weight', 'on_input']

export async function readLoraFile(file: string): Promise<LoraFile> {
  const adapter = await loadAdapter(file)
  if (adapter.unparsedKeys.length > 0) throw new InputError(`${basename(file)}: ${adapter.unparsedKeys.length} key(s) are not LoRA tensors, e.g. "${adapter.unparsedKeys[0]}"`)
  const modules = adapter.modules.map((m): LoraModule => {
    const up = m.parts.get('lora_up.weight')
    const down = m.parts.get('lora_down.weight')
    const other = OTHER_PARTS.find((p) => m.parts.has(p))
    if (!up || !down || other) {
      throw new InputError(`${basename(file)}: module ${m.name} is not a plain LoRA (parts ${[...m.parts.keys()].join(', ')}); `
        + 'the LoRA tools resize and merge lora_down/lora_up modules only. Hint: bake LyCORIS adapters into a checkpoint with `sdloom bake`.')
    }
    const rank = down.shape[0]
    const inner = numel(down.shape) / rank
    const out = up.shape[0]
    if (numel(up.shape) !== out * rank) throw new InputError(`${basename(file)}: module ${m.name}: lora_up [${up.shape.join(', ')}] does not chain with lora_down [${down.shape.join(', ')}]`)
    const alpha = m.parts.get('alpha')?.data[0] ?? rank
    return { name: m.name, up: up.data, down: down.data, out, rank, inner, alpha, downShape: down.shape }
  })
  return { file, metadata: adapter.metadata, modules, dtype: await firstUpDType(file), family: loraFamily(adapter) }
}

async function firstUpDType(file: string): Promise<TargetDType> {
  const s = await openTensorFile(file)
  try {
    const key = s.keys().find((k) => k.endsWith('up.weight') || k.endsWith('lora_B.weight'))
    const d = key ? s.info(key).dtype : 'F32'
    return d === 'F16' || d === 'BF16' ? d : 'F32'
  } finally {
    await s.close()
  }
}

/** Shapes as kohya stores them: conv modules keep 4-D down [r, in, kh, kw] and up [out, r, 1, 1]. */
function storedShapes(m: LoraModule): { down: number[]; up: number[] } {
  if (m.downShape.length === 4) return { down: [m.rank, ...m.downShape.slice(1)], up: [m.out, m.rank, 1, 1] }
  return { down: [m.rank, m.inner], up: [m.out, m.rank] }
}

/** Writes modules as a kohya LoRA (down, up, alpha per module) through a temp file renamed into place. */
export async function writeLoraFile(file: string, modules: readonly LoraModule[], o: { dtype: TargetDType; metadata: Readonly<Record<string, string>> }): Promise<void> {
  const tensors: WriteTensor[] = modules.flatMap((m) => {
    const s = storedShapes(m)
    return [
      { name: `${m.name}.alpha`, dtype: 'F32', shape: [], data: encodeF32As('F32', Float32Array.of(m.alpha)) },
      { name: `${m.name}.lora_down.weight`, dtype: o.dtype, shape: s.down, data: encodeF32As(o.dtype, m.down) },
      { name: `${m.name}.lora_up.weight`, dtype: o.dtype, shape: s.up, data: encodeF32As(o.dtype, m.up) },
    ]
  })
  await writeSafetensors(file, tensors, { metadata: o.metadata })
}

/** kohya `ss_*` metadata for a LoRA the tools wrote. `dim`/`alpha` are numbers, or "Dynamic" when ranks vary. */
export function kohyaMetadata(o: { dim: string; alpha: string; convDim?: string; convAlpha?: string; base?: Readonly<Record<string, string>>; comment: string }): Record<string, string> {
  const keep = Object.fromEntries(Object.entries(o.base ?? {}).filter(([k]) => k.startsWith('ss_') || k.startsWith('modelspec.')))
  return {
    ...keep,
    ss_network_module: 'networks.lora',
    ss_network_dim: o.dim,
    ss_network_alpha: o.alpha,
    ...(o.convDim ? { ss_network_args: JSON.stringify({ conv_dim: o.convDim, conv_alpha: o.convAlpha ?? o.convDim }) } : {}),
    ss_training_comment: o.comment,
  }
}
