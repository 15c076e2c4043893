/*
 * A ready-to-run UNet: builds the graph for a config, creates one onnxruntime session (symbolic sizes, so it serves
 * every latent size, batch and prompt length) and checks each call's inputs against the config before running.
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { GraphSession, type WeightSource } from '../../graph/session.ts'
import type { UnetConfig } from '../config/unet-config.ts'
import { buildUnetGraph, UNET_INPUTS, UNET_OUTPUT, type UnetGraph, type UnetGraphOptions, type UnetShapeSource } from './unet-graph.ts'

export interface UnetInputs {
  /** Latent (already scaled by c_in), [B, inChannels, H, W]. */
  readonly x: HostTensor
  /** Timesteps [B] (fractional allowed: k-diffusion's sigma_to_t). */
  readonly t: HostTensor
  /** Cross-attention context [B, 77·k, contextDim]. */
  readonly context: HostTensor
  /** SDXL `vector` conditioning [B, admInChannels]; must be absent for models without label_emb. */
  readonly y?: HostTensor
}

export interface UnetSessionOptions extends UnetGraphOptions {
  readonly threads?: number
}

export class UnetSession {
  private constructor(readonly config: UnetConfig, private readonly session: GraphSession, readonly unusedKeys: readonly string[]) {}

  static async create(config: UnetConfig, shapes: UnetShapeSource, opts: UnetSessionOptions = {}): Promise<UnetSession> {
    return UnetSession.fromGraph(config, buildUnetGraph(config, shapes, opts), opts)
  }

  /** A session over an already built graph (lets callers time or inspect the build separately). */
  static async fromGraph(config: UnetConfig, built: UnetGraph, opts: { readonly threads?: number } = {}): Promise<UnetSession> {
    const session = await GraphSession.create(built.graph, { weightKeys: built.weightKeys, threads: opts.threads })
    return new UnetSession(config, session, built.unusedKeys)
  }

  /** Runs the network once: eps (SD1, SDXL) or v (SD2-v), [B, outChannels, H, W]. */
  async run(inputs: UnetInputs, weights: WeightSource): Promise<HostTensor> {
    checkUnetInputs(this.config, inputs)
    const feeds: Record<string, HostTensor> = { [UNET_INPUTS.x]: inputs.x, [UNET_INPUTS.t]: inputs.t, [UNET_INPUTS.context]: inputs.context }
    if (inputs.y) feeds[UNET_INPUTS.y] = inputs.y
    return (await this.session.run(feeds, weights))[UNET_OUTPUT]
  }

  release(): Promise<void> { return this.session.release() }
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`

/** Throws InputError naming the input, the expected and the found shape. */
export function checkUnetInputs(c: UnetConfig, v: UnetInputs): void {
  const fail = (what: string, expected: string, found: readonly number[], hint = ''): never => {
    throw new InputError(`UNet input "${what}": expected ${expected}, found ${fmt(found)}${hint ? `. Hint: ${hint}` : ''}`)
  }
  const [b, ch] = v.x.shape
  if (v.x.shape.length !== 4 || ch !== c.inChannels) {
    fail('x', `[B, ${c.inChannels}, H, W]`, v.x.shape, c.inChannels === 9 ? 'an inpainting UNet takes latent + mask + masked-image latent' : '')
  }
  if (v.t.shape.length !== 1 || v.t.shape[0] !== b) fail('t', `[${b}]`, v.t.shape)
  const [cb, tokens, width] = v.context.shape
  if (v.context.shape.length !== 3 || cb !== b || width !== c.contextDim || tokens < 1) fail('context', `[${b}, 77·k, ${c.contextDim}]`, v.context.shape)
  if (c.admInChannels > 0 && (!v.y || v.y.shape.length !== 2 || v.y.shape[0] !== b || v.y.shape[1] !== c.admInChannels)) {
    fail('y', `[${b}, ${c.admInChannels}]`, v.y?.shape ?? [], 'SDXL needs the pooled text embedding + size/crop ids vector')
  }
  if (c.admInChannels === 0 && v.y) fail('y', 'no vector input (this UNet has no label_emb)', v.y.shape)
}
