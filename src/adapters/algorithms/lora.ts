/**
 * LoRA and LoCon (kohya `networks.lora`, LyCORIS `locon`), incl. the Tucker core `lora_mid`.
 * Port of A1111 `network_lora.py` `calc_updown` (webui v1.8, pinned c8a5322d):
 *   updown = (up.flatten(1) @ down.flatten(1)).reshape(weight shape)          up [out, r(, 1, 1)], down [r, in(, kh, kw)]
 *   with mid: einsum('n m k l, i n, m j -> i j k l', mid, up, down)          mid [r, r, kh, kw]
 *   scale = alpha / r (r = down.shape[0]).
 */
import { cols, matmulFlat, rebuildCp, scaleInPlace } from '../tensor-math.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { checkOutInner, describe, hasAll, moduleScale, part } from './common.ts'

export const lora: AdapterAlgorithm = {
  name: 'lora',
  layers: ['linear', 'conv'],
  claims: (parts) => hasAll(parts, ['lora_up.weight', 'lora_down.weight']),
  check(module, shape) {
    const up = part(module, 'lora_up.weight')
    const down = part(module, 'lora_down.weight')
    const mid = module.parts.get('lora_mid.weight')
    const chains = mid ? cols(up) === mid.shape[0] && mid.shape[1] === down.shape[0] : cols(up) === down.shape[0]
    if (!chains) return `${describe(module, 'lora_up.weight')} does not chain with ${describe(module, 'lora_down.weight')}${mid ? ` through ${describe(module, 'lora_mid.weight')}` : ''}`
    const inner = mid ? cols(down) * mid.shape[2] * mid.shape[3] : cols(down)
    return checkOutInner(`${describe(module, 'lora_up.weight')} × ${describe(module, 'lora_down.weight')}`, up.shape[0], inner, shape)
  },
  delta(module) {
    const up = part(module, 'lora_up.weight')
    const down = part(module, 'lora_down.weight')
    const mid = module.parts.get('lora_mid.weight')
    const updown = mid ? rebuildCp(up, down, mid) : matmulFlat(up, down)
    return { weight: scaleInPlace(updown, moduleScale(module, down.shape[0])) }
  },
  lowRank(module) {
    if (module.parts.has('lora_mid.weight')) return undefined
    const up = part(module, 'lora_up.weight')
    const down = part(module, 'lora_down.weight')
    return { up: up.data, down: down.data, out: up.shape[0], rank: down.shape[0], inner: cols(down), scale: moduleScale(module, down.shape[0]) }
  },
  tucker(module) {
    const mid = module.parts.get('lora_mid.weight')
    if (!mid || mid.shape.length !== 4 || mid.shape[0] !== mid.shape[1]) return undefined
    const up = part(module, 'lora_up.weight')
    const down = part(module, 'lora_down.weight')
    const scale = moduleScale(module, down.shape[0])
    return { up: up.data, mid: mid.data, down: down.data, out: up.shape[0], rank: down.shape[0], kernel: [mid.shape[2], mid.shape[3]], scale }
  },
}
