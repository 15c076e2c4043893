/**
 * What the model tools need to know about an input file: that it is a checkpoint (or a LoRA), and its architecture,
 * with one error that names the file and what it is instead. Two inputs of different architectures are an error
 * naming both.
 */
import { basename } from 'node:path'
import { InputError, ModelMismatchError, UnknownModelError } from '../core/errors.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { identifyModel, type Identification } from '../models/detect/index.ts'
import type { Arch } from '../adapters/types.ts'

export interface ModelArch {
  readonly file: string
  /** The detected family id (`sd1`, `sd2`, `sdxl-base`, `sdxl-refiner`, …). */
  readonly family: string
  readonly label: string
  /** The adapter layer's architecture, when the family is one sdloom patches. */
  readonly arch: Arch | undefined
  readonly identification: Identification
}

const ARCH_OF: Readonly<Record<string, Arch>> = { 'sd1': 'sd1', 'sd2': 'sd2', 'sdxl-base': 'sdxl' }

/** The architecture of a checkpoint (full, or UNet-only); anything else is an error naming the file. */
export function checkpointFamily(source: TensorSource, role: string): ModelArch {
  const id = identifyModel(source)
  const name = basename(source.file)
  if (id.kind === 'lora' || id.kind === 'embedding') {
    throw new InputError(`${role} ${name} is ${id.kind === 'lora' ? 'a LoRA' : 'an embedding'} (${id.architecture.label}), not a checkpoint`)
  }
  if (id.kind === 'unknown') throw new UnknownModelError(source.file, `${role}: not a Stable Diffusion checkpoint: ${id.reason}`)
  if (id.kind !== 'checkpoint' && id.kind !== 'unet-only') {
    throw new UnknownModelError(source.file, `${role}: is a ${id.kind} (${id.architecture.label}), not a checkpoint`)
  }
  return { file: source.file, family: id.architecture.id, label: id.architecture.label, arch: ARCH_OF[id.architecture.id], identification: id }
}

/** The adapter-layer architecture of a checkpoint; families sdloom does not patch are an error. */
export function requireArch(m: ModelArch): Arch {
  if (m.arch === undefined) throw new UnknownModelError(m.file, `is ${m.label}; the LoRA tools handle SD1.x, SD2.x and SDXL base checkpoints`)
  return m.arch
}

/** Every model must have the first one's family: `B.safetensors is SDXL base but A.safetensors is SD1.x`. */
export function checkSameFamily(models: readonly ModelArch[]): void {
  const [first, ...rest] = models
  for (const m of rest) {
    if (m.family !== first.family) {
      throw new ModelMismatchError(m.file, `is ${m.label} but ${basename(first.file)} is ${first.label}: models of different architectures cannot be combined. `
        + 'Hint: pick checkpoints of one family (SD1.x with SD1.x, SDXL with SDXL).')
    }
  }
}
