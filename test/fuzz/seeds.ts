/** Seed files for mutational fuzzing: small real files from ../shared/reference plus fixture-generated ones. */
import { readFile } from 'node:fs/promises'
import { ref } from '../golden.ts'
import { ZipArchive } from '../../src/formats/zip.ts'
import { torchCkptBytes, type FixtureValue } from '../fixtures/torch-pickle-writer.ts'
import { memoryFile } from './memory-file.ts'

/** A reference file's bytes (path segments under ../shared/reference). */
export const refBytes = async (...parts: string[]): Promise<Uint8Array> => new Uint8Array(await readFile(ref(...parts)))

/** Deterministic bytes 0, 1, 2, … (tensor data whose values do not matter). */
export function counting(n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 37 + 11) & 0xff
  return out
}

/** The entries of a zip held in memory (read with sdloom's own zip reader). */
export async function zipEntries(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const { fh, size } = memoryFile(bytes)
  const zip = await ZipArchive.open('seed.zip', fh, size)
  const out = new Map<string, Uint8Array>()
  for (const [name, e] of zip.entries) out.set(name, await zip.readAll(e, 1 << 26))
  return out
}

/** Fixture checkpoints as torch.save writes them: nested dicts, every fixture dtype, a strided view, scalars. */
export function fixtureCheckpoints(): Uint8Array[] {
  const obj: FixtureValue = {
    state_dict: {
      'model.w': { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
      'model.h': { dtype: 'F16', shape: [3, 2], data: [1, 2, 3, 4, 5, 6], stride: [1, 3] },
      'model.i': { dtype: 'I64', shape: [2], data: [7, 8, 9], offset: 1 },
      nested: { deeper: { dtype: 'F32', shape: [], data: [0.5] } },
    },
    epoch: 3, name: 'fixture', flag: true, none: null, lr: 0.25,
  }
  return [
    torchCkptBytes(obj, { archiveName: 'fx' }),
    torchCkptBytes(obj, { archiveName: 'fx', zip64: true }),
    torchCkptBytes(obj, { archiveName: 'fx', bigEndian: true }),
    torchCkptBytes(obj, { archiveName: 'fx', legacy: true }),
  ]
}
