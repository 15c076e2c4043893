/**
 * Child process for tool-writes.test.ts: writes one model tool's output to DIR/out.safetensors over a previous file
 * (the test kills this process while it writes).
 *   node --import tsx tool-child.ts merge|bake|extract DIR
 * DIR holds base.safetensors, tuned.safetensors (a variant of base) and lora.safetensors.
 */
import { join } from 'node:path'
import { mergeCheckpoints } from '../../src/tools/merge-checkpoints.ts'
import { bakeAdapters } from '../../src/tools/bake.ts'
import { extractLora } from '../../src/tools/lora-extract.ts'

const [kind, dir] = process.argv.slice(2)
const f = (name: string): string => join(dir, name)
const out = f('out.safetensors')
try {
  if (kind === 'merge') await mergeCheckpoints({ a: f('base.safetensors'), b: f('tuned.safetensors') }, out, { method: 'weighted-sum', alpha: 0.3 })
  else if (kind === 'bake') await bakeAdapters(f('base.safetensors'), [{ file: f('lora.safetensors'), te: 0.5, unet: 1 }], out)
  else await extractLora(f('tuned.safetensors'), f('base.safetensors'), out, { rank: 2, minDiff: 0 })
} catch (e) {
  process.stderr.write(`${(e as Error).name}: ${(e as Error).message}\n`)
  process.exitCode = 3
}
