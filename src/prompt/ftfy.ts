/**
 * The subset of ftfy 6.3.1 `fix_text` (default `TextFixerConfig`) that transformers' CLIPTokenizer and open_clip run on
 * every prompt in A1111's venv (reference README, "Two compatibility decisions", 2).
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/__init__.py (fix_text, fix_and_explain)
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/fixes.py
 *
 * Ported: every fixer that the default config runs on text (unescape_html "auto": off from the first line that
 * contains '<' on; fix_encoding over ftfy's ten single-byte encodings with restore_byte_a0, replace_lossy_sequences,
 * decode_inconsistent_utf8 and the utf-8-variants decoder; fix_c1_controls, fix_latin_ligatures,
 * fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates, remove_terminal_escapes,
 * remove_control_chars; NFC). Unicode tables come from the JS engine (ICU), so characters newer than the Unicode
 * version of CPython's unicodedata may normalize differently.
 */
import { ftfyUnescapeHtml } from './html-unescape.ts'
import { fixEncoding, fixC1Controls } from './ftfy-encoding.ts'

const LIGATURES: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'], ['\u0133', 'ij'], ['\u0149', '\u02bcn'], ['\u01f1', 'DZ'], ['\u01f2', 'Dz'], ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'], ['\u01c5', 'D\u017e'], ['\u01c6', 'd\u017e'], ['\u01c7', 'LJ'], ['\u01c8', 'Lj'],
  ['\u01c9', 'lj'], ['\u01ca', 'NJ'], ['\u01cb', 'Nj'], ['\u01cc', 'nj'], ['\ufb00', 'ff'], ['\ufb01', 'fi'],
  ['\ufb02', 'fl'], ['\ufb03', 'ffi'], ['\ufb04', 'ffl'], ['\ufb05', '\u017ft'], ['\ufb06', 'st'],
])
const LIGATURE_RE = /[\u0132\u0133\u0149\u01f1-\u01f3\u01c4-\u01cc\ufb00-\ufb06]/g

// ftfy builds WIDTH_MAP as: U+3000 → ' ', and every U+FF01..U+FFEF whose NFKC form differs → that form.
function buildWidthMap(): ReadonlyMap<string, string> {
  const map = new Map<string, string>([['\u3000', ' ']])
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const ch = String.fromCharCode(cp)
    const alt = ch.normalize('NFKC')
    if (alt !== ch) map.set(ch, alt)
  }
  return map
}
const WIDTH_MAP = buildWidthMap()
const WIDTH_RE = /[\u3000\uff01-\uffef]/g

// 0-8, 11, 14-31, 127, U+206A-U+206F, U+FEFF, U+FFF9-U+FFFC (ftfy chardata._build_control_char_mapping)
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g
// Python's \d in a str pattern is any Unicode decimal digit.
const ANSI_RE = /\x1b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

export const removeTerminalEscapes = (t: string): string => t.replace(ANSI_RE, '')
export const uncurlQuotes = (t: string): string => t.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'")
export const fixLatinLigatures = (t: string): string => t.replace(LIGATURE_RE, (c) => LIGATURES.get(c) ?? c)
export const fixCharacterWidth = (t: string): string => t.replace(WIDTH_RE, (c) => WIDTH_MAP.get(c) ?? c)
export const fixLineBreaks = (t: string): string =>
  t.replaceAll('\r\n', '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n')
// JS strings pair surrogates by themselves; only unpaired halves need replacing.
export const fixSurrogates = (t: string): string => t.replace(LONE_SURROGATE_RE, '\ufffd')
export const removeControlChars = (t: string): string => t.replace(CONTROL_RE, '')

/** ftfy `fix_and_explain` on one segment: every fixer in ftfy's order, repeated until nothing changes. */
function fixSegment(segment: string, unescapeHtml: boolean): string {
  let text = segment
  for (;;) {
    const before = text
    if (unescapeHtml) text = ftfyUnescapeHtml(text)
    text = fixEncoding(text)
    text = fixC1Controls(text)
    text = fixLatinLigatures(text)
    text = fixCharacterWidth(text)
    text = uncurlQuotes(text)
    text = fixLineBreaks(text)
    text = fixSurrogates(text)
    text = removeTerminalEscapes(text)
    text = removeControlChars(text)
    text = text.normalize('NFC')
    if (text === before) return text
  }
}

/**
 * ftfy `fix_text(text)` with the default config: the text is fixed line by line (each segment ends after '\n'); HTML
 * entities are unescaped only until the first segment that contains '<' (ftfy's "auto" rule keeps that choice).
 */
export function ftfyFixText(text: string): string {
  let out = ''
  let pos = 0
  let unescapeHtml = true
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1
    if (end === 0) end = text.length
    const segment = text.slice(pos, end)
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false
    // fix_and_explain re-checks '<' on its own segment; already covered by the line above.
    out += fixSegment(segment, unescapeHtml)
    pos = end
  }
  return out
}
