/**
 * Opens any supported tensor file by its content, not its extension: a zip (`PK\3\4`) is a torch checkpoint, a
 * leading pickle PROTO byte (0x80) is torch's legacy format, an 8-byte length followed by `{` is safetensors, "GGUF" is
 * a ggml file (stable-diffusion.cpp).
 */
import { TensorFileError } from '../core/errors.ts'
import type { TensorSource } from './tensor-source.ts'
import { openForRead, readExactly } from './file-io.ts'
import { openSafetensors } from './safetensors.ts'
import { openTorchZip } from './ckpt.ts'
import { openTorchLegacy } from './ckpt-legacy.ts'
import { openGguf } from './gguf.ts'

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ')

export async function openTensorFile(path: string): Promise<TensorSource> {
  const { fh, size } = await openForRead(path)
  let head: Uint8Array
  try {
    head = await readExactly(fh, path, Math.min(size, 9), 0)
  } catch (e) {
    await fh.close()
    throw e
  }
  if (size >= 9 && head[8] === 0x7b) {
    await fh.close()
    return openSafetensors(path)
  }
  try {
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return await openTorchZip(path, fh, size)
    if (head[0] === 0x80) return await openTorchLegacy(path, fh, size)
    if (size >= 4 && String.fromCharCode(...head.subarray(0, 4)) === 'GGUF') return await openGguf(path, fh, size)
  } catch (e) {
    await fh.close()
    throw e
  }
  await fh.close()
  throw new TensorFileError(path, undefined, `unrecognised format: expected safetensors (8-byte length, then "{"), a torch zip `
    + `checkpoint ("PK\\x03\\x04"), a torch pickle (0x80) or GGUF ("GGUF"); the file ${size === 0 ? 'is empty' : `starts with ${hex(head)}`}`)
}
