/**
 * ftfy 6.3.1's mojibake detector (`badness.BADNESS_RE`, `is_bad`) and the UTF-8 clue regex of `chardata`,
 * rebuilt from the same character categories.
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/badness.py
 */
import { PY_SPACE, PY_WORD } from './py-text.ts'

const C = {
  common: '\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019',
  c1: '\u0080-\u009f',
  bad: '\u00a6\u00a4\u00a8\u00ac\u00af\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc\u2020\u2021\u2030\u2310'
    + '\u25ca\ufffd\u00aa\u00ba',
  law: '\u00b6\u00a7',
  currency: '\u00a2\u00a3\u00a5\u20a7\u20ac',
  start_punctuation: '\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039\uf8ff',
  end_punctuation: '\u00ae\u00bb\u02dd\u201d\u203a\u2122',
  numeric: '\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211\u221a'
    + '\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116',
  kaomoji: '\u00d2-\u00d6\u00d9-\u00dc\u00f2-\u00f6\u00f8-\u00fc\u0150\u014c\u016a\u0172\u00b0',
  upper_accented: '\u00c0-\u00d1\u00d8\u00dc\u00dd\u0102\u0100\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u0112\u0116'
    + '\u011e\u0122\u0130\u012a\u0136\u0139\u013d\u0141\u013b\u0143\u0147\u0145\u0152\u0158\u015a\u015e'
    + '\u0160\u0162\u0164\u016e\u0170\u0178\u0179\u017b\u017d\u0490',
  lower_accented: '\u00df\u00e0-\u00f1\u0103\u0105\u0101\u0107\u010d\u010f\u0111\u0119\u011b\u0113\u0117\u011f\u0123'
    + '\u012f\u012b\u0137\u013a\u013e\u0142\u013c\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c'
    + '\u017e\u0491\ufb01\ufb02',
  upper_common: '\u00de\u0391-\u03a9\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab\u0401-\u042f',
  lower_common: '\u03b1-\u03c9\u03ac\u03ad\u03ae\u03af\u03b0\u0430-\u045f',
  box: '\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2550-\u256c\u2580\u2584\u2588\u258c\u2590\u2591'
    + '\u2592\u2593',
} as const


const cls = (...parts: (keyof typeof C)[]): string => parts.map((p) => C[p]).join('')
const ACCENTED_ETC = cls('lower_accented', 'upper_accented', 'box', 'start_punctuation', 'end_punctuation', 'currency',
  'numeric', 'law')
const ARABIC = `[${cls('common', 'currency', 'bad', 'numeric', 'start_punctuation')}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]`
const SEQ_1251 = `[${cls('c1', 'bad', 'start_punctuation', 'end_punctuation', 'currency')}\u00b0\u00b5]`
const SEQ_1253 = `[${cls('c1', 'bad', 'start_punctuation', 'end_punctuation', 'currency')}\u00b0]`

const BADNESS_ALTERNATIVES = [
  `[${C.c1}]`,
  `[${cls('bad')}${ACCENTED_ETC}][${C.bad}]`,
  `[a-zA-Z][${cls('lower_common', 'upper_common')}][${C.bad}]`,
  `[${C.bad}][${ACCENTED_ETC}]`,
  `[${cls('lower_accented', 'lower_common', 'box', 'end_punctuation', 'currency', 'numeric')}][${C.upper_accented}]`,
  `[${cls('box', 'end_punctuation', 'currency', 'numeric')}][${C.lower_accented}]`,
  `[${cls('lower_accented', 'box', 'end_punctuation')}][${C.currency}]`,
  `[${PY_SPACE}][${C.upper_accented}][${C.currency}]`,
  `[${cls('upper_accented', 'box')}][${cls('numeric', 'law')}]`,
  `[${cls('lower_accented', 'upper_accented', 'box', 'currency', 'end_punctuation')}][${C.start_punctuation}][${C.numeric}]`,
  `[${cls('lower_accented', 'upper_accented', 'currency', 'numeric', 'box', 'law')}][${C.end_punctuation}]`
    + `[${C.start_punctuation}]`,
  `[${cls('currency', 'numeric', 'box')}][${C.start_punctuation}]`,
  `[a-z][${C.upper_accented}][${cls('start_punctuation', 'currency')}]`,
  `[${C.box}][${C.kaomoji}]`,
  `[${cls('lower_accented', 'upper_accented', 'currency', 'numeric', 'start_punctuation', 'end_punctuation', 'law')}]`
    + `[${C.box}]`,
  `[${C.box}][${C.end_punctuation}]`,
  `[${cls('lower_accented', 'upper_accented')}][${cls('start_punctuation', 'end_punctuation')}][${PY_WORD}]`,
  '[\u0152\u0153][^A-Za-z]',
  `[${C.upper_accented}]\u00b0`,
  `[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\\xa0\\xad\u00ae\u00a9\u00b0\u00b7\u00bb`
    + `${cls('start_punctuation', 'end_punctuation')}\u2013\u2014\u00b4]`,
  '\u00d7[\u00b2\u00b3]',
  `[\u00d8\u00d9]${ARABIC}[\u00d8\u00d9]${ARABIC}`,
  '\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]',
  '\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]',
  '\u2248[\u00b0\u00a2]',
  '\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]',
  '\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]',
  '\u0432\u0402',
  `[\u0412\u0413\u0420\u0421]${SEQ_1251}[\u0412\u0413\u0420\u0421]`,
  '\u0413\u045e\u0412\u0402\u0412.[A-Za-z ]',
  '\u00c3[\\xa0\u00a1]',
  `[a-z][${PY_SPACE}]?[\u00c3\u00c2][ ]`,
  '^[\u00c3\u00c2][ ]',
  `[a-z.,?!${C.end_punctuation}]\u00c2[ ${cls('start_punctuation', 'end_punctuation')}]`,
  '\u03b2\u20ac[\u2122\\xa0\u0386\\xad\u00ae\u00b0]',
  `[\u0392\u0393\u039e\u039f]${SEQ_1253}[\u0392\u0393\u039e\u039f]`,
  '\u0101\u20ac',
]

// Python's '.' excludes only '\n'; JS's excludes other line terminators too, so spell it out.
const BADNESS_RE = new RegExp(BADNESS_ALTERNATIVES.join('|').replaceAll('.[A-Za-z ]', '[^\\n][A-Za-z ]'), 'u')

/** ftfy `is_bad`: does the text contain a sequence that is almost certainly mojibake? */
export function isBad(text: string): boolean {
  return BADNESS_RE.test(text)
}

const CLUES = {
  first2: '\u0102\u00c2\u00c4\u0100\u00c5\u00c3\u00c6\u0106\u010c\u00c7\u010e\u0110\u00c9\u011a\u00ca\u00cb'
    + '\u0116\u00c8\u0112\u0118\u00d0\u011e\u0122\u00cd\u00ce\u00cf\u0130\u00cc\u012a\u0136\u0139\u013b'
    + '\u0141\u0143\u0147\u0145\u00d1\u00d3\u00d4\u00d6\u0150\u00d2\u014c\u00d8\u00d5\u0158\u015a\u0160'
    + '\u015e\u0162\u00de\u00da\u00db\u00dc\u0170\u00d9\u016a\u0172\u016e\u00dd\u0179\u017d\u017b\u00df'
    + '\u00d7\u0392\u0393\u0394\u0395\u0396\u0397\u0398\u0399\u039a\u039b\u039c\u039d\u039e\u039f\u03a0'
    + '\u03a1\u03a3\u03a4\u03a5\u03a6\u03a7\u03a8\u03a9\u03aa\u03ab\u03ac\u03ad\u03ae\u03af\u0412\u0413'
    + '\u0414\u0415\u0416\u0417\u0418\u0419\u041a\u041b\u041c\u041d\u041e\u041f\u0420\u0421\u0422\u0423'
    + '\u0424\u0425\u0426\u0427\u0428\u0429\u042a\u042b\u042c\u042d\u042e\u042f',
  first3: '\u00e1\u0103\u00e2\u00e4\u00e0\u0101\u0105\u00e5\u00e3\u00e6\u0107\u010d\u00e7\u010f\u00e9\u011b'
    + '\u00ea\u00eb\u0117\u00e8\u0113\u0119\u0119\u0123\u00ed\u00ee\u00ef\u00ec\u012b\u012f\u0137\u013a'
    + '\u013c\u0155\u017a\u03b0\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc'
    + '\u03bd\u03be\u03bf\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043a\u043b\u043c'
    + '\u043d\u043e\u043f',
  first4: '\u0111\u00f0\u011f\u00f3\u0161\u03c0\u03c3\u0440\u0443',
  continuation: '\u0080-\u00bf \u0104\u00c6\u013d\u0141\u00d8\u0156\u015a\u0160\u015e\u0164\u0178\u0179\u017d'
    + '\u017b\u0152\u0105\u00e6\u0192\u013e\u0142\u00f8\u0157\u015b\u0161\u015f\u0165\u017a\u017e\u017c'
    + '\u0153\u02c6\u02c7\u02d8\u02db\u02dc\u02dd\u0384\u0385\u0386\u0388\u0389\u038a\u038c\u038e\u038f'
    + '\u0401\u0402\u0403\u0404\u0405\u0406\u0407\u0408\u0409\u040a\u040b\u040c\u040e\u040f\u0451\u0452'
    + '\u0453\u0454\u0455\u0456\u0457\u0458\u0459\u045a\u045b\u045c\u045e\u045f\u0490\u0491\u2013\u2014'
    + '\u2015\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2116'
    + '\u2122',
  continuationStrict: '\u0080-\u00bf\u0104\u00c6\u013d\u0141\u00d8\u0156\u015a\u0160\u015e\u0164\u0178\u0179\u017d\u017b'
    + '\u0152\u0105\u00e6\u0192\u013e\u0142\u00f8\u0157\u015b\u0161\u015f\u0165\u017a\u017e\u017c\u0153'
    + '\u02c6\u02c7\u02d8\u02db\u02dc\u02dd\u0384\u0385\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u0401'
    + '\u0402\u0403\u0404\u0405\u0406\u0407\u0408\u0409\u040a\u040b\u040c\u040e\u040f\u0451\u0452\u0453'
    + '\u0454\u0455\u0456\u0457\u0458\u0459\u045a\u045b\u045c\u045e\u045f\u0490\u0491\u2020\u2021\u2030'
    + '\u2039\u203a\u20ac\u2116\u2122',
} as const
const CONT = `[${CLUES.continuation}]`

/** ftfy `chardata.UTF8_DETECTOR_RE`: runs of characters that look like UTF-8 bytes decoded one by one. */
export const UTF8_DETECTOR_RE = new RegExp(`(?<![${CLUES.continuationStrict}])`
  + `(?:[${CLUES.first2}]${CONT}|[${CLUES.first3}]${CONT}{2}|[${CLUES.first4}]${CONT}{3})+`, 'gu')
