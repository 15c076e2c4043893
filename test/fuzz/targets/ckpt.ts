/**
 * torch checkpoints as files: the zip reader (end record, zip64, central directory, local headers, stored and
 * deflated entries with CRCs), byteorder, data.pkl through the VM, storages checked against their entries, and
 * torch's legacy non-zip layout (five pickles, then counted storages). Structure-aware cases are zips built from
 * hostile parts: duplicated and traversing names, several data.pkl, deflate bombs, missing or short storages.
 */
import fc from 'fast-check'
import { openTorchZip } from '../../../src/formats/ckpt.ts'
import { openTorchLegacy } from '../../../src/formats/ckpt-legacy.ts'
import { storedZip } from '../../fixtures/torch-pickle-writer.ts'
import type { FuzzTarget } from '../harness.ts'
import { memoryFile } from '../memory-file.ts'
import { mutated } from '../mutate.ts'
import { fixtureCheckpoints, refBytes, zipEntries } from '../seeds.ts'

const NAMES = ['fx/data.pkl', 'fx/data/0', 'fx/data/1', 'fx/byteorder', 'fx/version', 'other/data.pkl', '../../evil/data.pkl',
  '/etc/passwd', 'fx/data/../../../x', 'fx\\data\\0', '', 'fx/data.pkl\0.txt']

/** Zips assembled from the fixture checkpoint's real entries, renamed, duplicated, dropped or replaced. */
async function zipFromParts(): Promise<fc.Arbitrary<Uint8Array>> {
  const real = [...(await zipEntries(fixtureCheckpoints()[0])).values()]
  // (storedZip builds its bytes one number at a time: large entries would make generation, not the reader, the cost.)
  const content = fc.oneof(fc.constantFrom(...real), fc.uint8Array({ maxLength: 32 }), fc.constantFrom(Buffer.from('big'), Buffer.from('middle')),
    fc.constant(new Uint8Array(4096)))
  return fc.array(fc.record({ name: fc.constantFrom(...NAMES), data: content, deflate: fc.boolean() }), { maxLength: 6 })
    .chain((files) => fc.boolean().map((zip64) => storedZip(files, zip64)))
}

export async function ckptSeeds(): Promise<Uint8Array[]> {
  return [...fixtureCheckpoints(), await refBytes('sd1', 'adapters', 'embeddings', 'tinyemb.pt')]
}

export const ckptTarget: FuzzTarget<Uint8Array> = {
  name: 'ckpt',
  describe: 'formats/zip.ts + ckpt.ts + ckpt-legacy.ts: torch zip and legacy files, every tensor read',
  // A deflated data.pkl may legitimately inflate to MAX_PICKLE_BYTES; the fuzz inputs stay far below that.
  async arbitrary() { return fc.oneof(mutated(await ckptSeeds()), await zipFromParts()) },
  async run(bytes) {
    const { fh, size } = memoryFile(bytes)
    const src = bytes[0] === 0x80 ? await openTorchLegacy('fuzz.ckpt', fh, size) : await openTorchZip('fuzz.ckpt', fh, size)
    for (const key of src.keys()) await src.readF32(key)
  },
}
