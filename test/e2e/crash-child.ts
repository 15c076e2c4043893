/**
 * Child process for crash-writes.test.ts: repeats one kind of write forever (until killed) or once, printing
 * "ready" before the first. Kinds: convert (safetensors out), png (image save), hash (the hash cache).
 *   node --import tsx crash-child.ts KIND loop|once DIR
 */
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { convertModel } from '../../src/tools/convert.ts'
import { writePng } from '../../src/image/png.ts'
import { hashFile } from '../../src/tools/hash.ts'
import { crashImage } from './crash-fixtures.ts'

const [kind, mode, dir] = process.argv.slice(2)

async function writeOnce(i: number): Promise<void> {
  if (kind === 'convert') await convertModel(join(dir, 'in.safetensors'), join(dir, 'out.safetensors'), { dtype: i % 2 ? 'F16' : 'F32' })
  else if (kind === 'png') await writePng(join(dir, 'out.png'), crashImage(i % 2))
  else {
    // A new mtime makes the cached entry stale, so every call hashes again and rewrites the cache file.
    const file = join(dir, `in${i % 4}.bin`)
    await utimes(file, i, i)
    await hashFile(file, ['sha256'], { cacheDir: dir })
  }
}

process.stdout.write('ready\n')
try {
  for (let i = 1; ; i++) {
    await writeOnce(i)
    if (mode === 'once') break
  }
} catch (e) {
  process.stderr.write(`${(e as Error).name}: ${(e as Error).message}\n`)
  process.exitCode = 3
}
