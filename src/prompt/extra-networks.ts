/**
 * A1111 extra networks in prompt text: `<lora:NAME:TE:UNET>`, `<lyco:…>` (an alias of lora in A1111 1.x),
 * `<hypernet:NAME:M>`. `extra_networks.parse_prompt` removes every `<kind:args>` from the text (leaving the spaces
 * around it) and collects the arguments; the Lora extension reads them as positional multipliers or `te=`, `unet=`,
 * `dyn=` keywords.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/extra_networks.py
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/extensions-builtin/Lora/extra_networks_lora.py
 */
import { InputError } from '../core/errors.ts'
import { PY_WORD, pyFloat, pyInt } from './py-text.ts'

/** One `<kind:a:b:…>` as A1111's ExtraNetworkParams: items split at ':'; `k=v` items (exactly one '=') are named. */
export interface ExtraNetworkCall {
  readonly kind: string
  readonly items: readonly string[]
  readonly positional: readonly string[]
  readonly named: Readonly<Record<string, string>>
}

/** A LoRA/LyCORIS reference with A1111's multipliers. */
export interface LoraCall {
  readonly name: string
  /** text-encoder multiplier (2nd item or te=; default 1) */
  readonly te: number
  /** UNet multiplier (3rd item or unet=; default = te) */
  readonly unet: number
  /** LyCORIS dynamic rank (4th item or dyn=), if given */
  readonly dyn?: number
}

export interface HypernetCall {
  readonly name: string
  readonly multiplier: number
}

export interface ParsedExtraNetworks {
  /** The prompt with every `<kind:…>` removed. */
  readonly text: string
  /** Every call in prompt order, any kind (A1111 skips kinds it does not know, with a log line). */
  readonly calls: readonly ExtraNetworkCall[]
  readonly loras: readonly LoraCall[]
  readonly hypernets: readonly HypernetCall[]
}

const EXTRA_NET_RE = new RegExp(`<([${PY_WORD}]+):([^>]+)>`, 'gu')
/** Kinds A1111 1.x routes to its Lora extension. */
const LORA_KINDS: ReadonlySet<string> = new Set(['lora', 'lyco'])

function makeCall(kind: string, args: string): ExtraNetworkCall {
  const items = args.split(':')
  const positional: string[] = []
  const named: Record<string, string> = {}
  for (const item of items) {
    const parts = item.split('=')
    if (parts.length === 2) named[parts[0]] = parts[1]
    else positional.push(item)
  }
  return { kind, items, positional, named }
}

function number(call: ExtraNetworkCall, value: string, what: string, parse = pyFloat): number {
  const n = parse(value)
  if (n === undefined) {
    throw new InputError(`prompt: <${call.kind}:${call.items.join(':')}>: the ${what} "${value}" is not a number. `
      + `Hint: write e.g. <${call.kind}:${call.positional[0] ?? 'name'}:0.8>.`)
  }
  return n
}

/** A1111 `ExtraNetworkLora.activate` reading of one call. */
export function loraFromCall(call: ExtraNetworkCall): LoraCall {
  const { positional: pos, named } = call
  if (pos.length === 0) {
    throw new InputError(`prompt: <${call.kind}:${call.items.join(':')}> names no network. Hint: <${call.kind}:NAME:0.8>.`)
  }
  let te = pos.length > 1 ? number(call, pos[1], 'text-encoder multiplier') : 1.0
  if (named.te !== undefined) te = number(call, named.te, 'te multiplier')
  let unet = pos.length > 2 ? number(call, pos[2], 'UNet multiplier') : te
  if (named.unet !== undefined) unet = number(call, named.unet, 'unet multiplier')
  let dyn = pos.length > 3 ? number(call, pos[3], 'dyn rank', pyInt) : undefined
  if (named.dyn !== undefined) dyn = number(call, named.dyn, 'dyn rank', pyInt)
  return dyn === undefined ? { name: pos[0], te, unet } : { name: pos[0], te, unet, dyn }
}

function hypernetFromCall(call: ExtraNetworkCall): HypernetCall {
  // A1111 ExtraNetworkHypernet: items[0] is the name, items[1] the multiplier (default 1).
  const multiplier = call.items.length > 1 ? number(call, call.items[1], 'multiplier') : 1.0
  return { name: call.items[0], multiplier }
}

/** A1111 `extra_networks.parse_prompt`, plus the LoRA and hypernetwork readings of the calls it found. */
export function parseExtraNetworks(prompt: string): ParsedExtraNetworks {
  const calls: ExtraNetworkCall[] = []
  // No match can end after the last '>': searching only up to it keeps the regex linear. Otherwise every '<word:'
  // with no '>' after it scans to the end of the prompt (20,000 of them took 7 s).
  const end = prompt.lastIndexOf('>') + 1
  const text = prompt.slice(0, end).replace(EXTRA_NET_RE, (_m, kind: string, args: string) => {
    calls.push(makeCall(kind, args))
    return ''
  }) + prompt.slice(end)
  return {
    text,
    calls,
    loras: calls.filter((c) => LORA_KINDS.has(c.kind)).map(loraFromCall),
    hypernets: calls.filter((c) => c.kind === 'hypernet').map(hypernetFromCall),
  }
}
