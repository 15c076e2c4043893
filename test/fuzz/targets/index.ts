/** Every fuzz target, by name (`npm run fuzz -- --target NAME`). */
import type { FuzzTarget } from '../harness.ts'
import { safetensorsTarget } from './safetensors.ts'
import { pickleTarget } from './pickle.ts'
import { pngTarget } from './png.ts'
import { ckptTarget } from './ckpt.ts'
import { ggufTarget } from './gguf.ts'
import { infotextTarget, promptTarget, tokenizerTarget } from './text.ts'

export const TARGETS: Readonly<Record<string, FuzzTarget<any>>> = {
  safetensors: safetensorsTarget,
  pickle: pickleTarget,
  ckpt: ckptTarget,
  gguf: ggufTarget,
  png: pngTarget,
  infotext: infotextTarget,
  prompt: promptTarget,
  tokenizer: tokenizerTarget,
}
