// Expected texts are the ftfy 6.3.1 behaviours listed in the reference README ("Text cleanup", sd1/goldens/) and the
// cleaned text stored in sd1/goldens/tokenizer.json.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson } from '../../test/golden.ts'
import { ftfyFixText } from './ftfy.ts'
import { htmlUnescape } from './html-unescape.ts'

test('the golden unicode prompt is cleaned exactly as ftfy did', () => {
  const p = readRefJson('sd1', 'goldens', 'tokenizer.json').prompts[3]
  assert.equal(ftfyFixText(p.prompt), p.informative_without_ftfy.ftfy_fix_text_output)
})

test('uncurl_quotes: all curly double and single quotes, but not primes', () => {
  assert.equal(ftfyFixText('\u201cq\u201d \u2018s\u2019 \u201elow\u201f \u201ax\u201b'), '"q" \'s\' "low" \'x\'')
  assert.equal(ftfyFixText('5\u2032 6\u2033'), '5\u2032 6\u2033')
})

test('unescape_html "auto": entities are unescaped unless the text contains "<"', () => {
  assert.equal(ftfyFixText('salt &amp; pepper'), 'salt & pepper')
  assert.equal(ftfyFixText('<b> salt &amp; pepper'), '<b> salt &amp; pepper')
})

test('fix_encoding repairs UTF-8 read as Latin-1 / Windows-1252', () => {
  assert.equal(ftfyFixText('caf\u00c3\u00a9'), 'caf\u00e9')
})

test('ligatures, character width, C1 controls, NFC', () => {
  assert.equal(ftfyFixText('\ufb01ne'), 'fine')
  assert.equal(ftfyFixText('\uff21\uff22\uff23\uff11\uff12\uff13'), 'ABC123')
  assert.equal(ftfyFixText('\uff76'), '\u30ab')   // half-width katakana KA → full-width
  assert.equal(ftfyFixText('wait\u0085'), 'wait\u2026')
  assert.equal(ftfyFixText('e\u0301'), '\u00e9')
})

test('zero-width space and NBSP are kept; terminal escapes and control characters go', () => {
  assert.equal(ftfyFixText('a\u200bb\u00a0c'), 'a\u200bb\u00a0c')
  assert.equal(ftfyFixText('\u001b[31mred\u001b[0m\u0007'), 'red')
})

test('html.unescape (open_clip runs it twice after ftfy)', () => {
  assert.equal(htmlUnescape('&amp;lt;'), '&lt;')
  assert.equal(htmlUnescape(htmlUnescape('&amp;lt;')), '<')
  assert.equal(htmlUnescape('&#233;&#x41;&notit;'), '\u00e9A\u00acit;')
})
