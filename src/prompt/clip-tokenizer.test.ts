import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readRefJson, TOKENIZER_DIR } from '../../test/golden.ts'
import { createClipTokenizer, clipTokenizerFromContents, TokenizerFileError } from './clip-tokenizer.ts'

const clip = createClipTokenizer(TOKENIZER_DIR)
const openClip = clip.withFlavor('open-clip')
const sd1 = readRefJson('sd1', 'goldens', 'tokenizer.json')
const sd2 = readRefJson('sd2', 'goldens', 'tokenizer.json')
const sdxl = readRefJson('sdxl', 'goldens', 'tokenizer.json')

/** BOS + ids + EOS, cut to 77 with EOS kept last, padded with `pad` (transformers / open_clip.tokenize). */
function pad77(ids: number[], pad: number): number[] {
  const out = [clip.bos, ...ids].slice(0, 76)
  out.push(clip.eos)
  while (out.length < 77) out.push(pad)
  return out
}

test('special ids come from the vocabulary', () => {
  assert.equal(clip.bos, sd1.bos)
  assert.equal(clip.eos, sd1.eos)
  assert.equal(clip.comma, sd1.comma)
})

test('sd1 goldens: transformers CLIPTokenizer with ftfy, exact ids', () => {
  for (const p of sd1.prompts) {
    assert.deepEqual(clip.encode(p.prompt), p.bpe_ids_no_specials, JSON.stringify(p.prompt))
    assert.deepEqual(pad77(clip.encode(p.prompt), clip.eos), p.hf_padded_truncated_77, JSON.stringify(p.prompt))
  }
})

test('sd2 goldens: open_clip SimpleTokenizer, exact ids, zero padding', () => {
  for (const p of sd2.prompts) {
    assert.deepEqual(openClip.encode(p.prompt), p.bpe_ids_no_specials, JSON.stringify(p.prompt))
    assert.deepEqual(pad77(openClip.encode(p.prompt), 0), p.open_clip_tokenize_77, JSON.stringify(p.prompt))
  }
})

test('sdxl goldens: CLIP-L ids padded with EOS as diffusers does', () => {
  for (const p of sdxl.prompts) {
    assert.deepEqual(pad77(clip.encode(p.prompt), clip.eos), p.diffusers_tokenizer_77, JSON.stringify(p.prompt))
  }
})

test('the unicode prompt is cleaned by ftfy (only the curly quotes change its tokens)', () => {
  const p = sd1.prompts[3]
  assert.notDeepEqual(clip.encode(p.prompt), p.informative_without_ftfy.bpe_ids_no_specials)
  assert.deepEqual(clip.encode(p.informative_without_ftfy.ftfy_fix_text_output), p.bpe_ids_no_specials)
})

test('literal special tokens map to BOS/EOS in each flavor', () => {
  assert.deepEqual(clip.encode('<|startoftext|>cat<|endoftext|>'), [clip.bos, ...clip.encode('cat'), clip.eos])
  assert.deepEqual(openClip.encode('<start_of_text>cat<end_of_text>'), [clip.bos, ...clip.encode('cat'), clip.eos])
})

test('a missing tokenizer folder is a TokenizerFileError that says what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sdloom-tok-'))
  assert.throws(() => createClipTokenizer(dir), (e: unknown) => {
    assert.ok(e instanceof TokenizerFileError)
    assert.equal(e.message, `${join(dir, 'vocab.json')}: cannot be read (ENOENT). Hint: pass --tokenizer DIR `
      + '(a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER.')
    return true
  })
})

test('malformed vocabulary and merges are rejected with what was expected', () => {
  assert.throws(() => clipTokenizerFromContents('[1, 2]', ''),
    { name: 'TokenizerFileError', message: 'vocab.json: expected a JSON object {token: id}, found another JSON value.' })
  assert.throws(() => clipTokenizerFromContents('{"<|startoftext|>": 1}', ''), {
    name: 'TokenizerFileError',
    message: 'vocab.json: expected "<|startoftext|>" = 49406, found 1. '
      + 'Hint: sdloom needs the vocabulary of openai/clip-vit-large-patch14.',
  })
  const dir = mkdtempSync(join(tmpdir(), 'sdloom-tok-'))
  writeFileSync(join(dir, 'vocab.json'), '{"<|startoftext|>": 49406, "<|endoftext|>": 49407}')
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b\n')
  assert.throws(() => createClipTokenizer(dir), {
    name: 'TokenizerFileError',
    message: `${join(dir, 'merges.txt')}: expected 48894 merges after the header line, found 1. `
      + 'Hint: the file is truncated or not the CLIP merges.txt.',
  })
})
