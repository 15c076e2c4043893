/*
 * Which weights `--weights int8` holds as int8 (graph/int8-weights.ts): the Linear and Conv weights of the UNet and
 * the text encoders, the bulk of a checkpoint's parameters. Norms, biases, embeddings (looked up by Gather, where
 * per-row scales would round whole token vectors) and the VAE stay float32, as the fast-path issue asks.
 */
import { UNET_PREFIX } from './config/unet-config.ts'

const TEXT_ENCODER_PREFIXES = ['cond_stage_model.', 'conditioner.embedders.']

/** Below this many values a weight is not worth its DequantizeLinear node (4 KB of float32 at most). */
const MIN_VALUES = 1024

/**
 * How weights are held: 'auto' keeps F16 tensors at their stored width (mapped from the file where it can be; the
 * graph casts them to float32 where they are used: the same values as 'fp32'), 'fp32' widens everything at load,
 * 'int8' quantizes the Linear/Conv weights below (weight-only: float32 kernels), 'w8a8' holds the same int8 weights
 * and runs the UNet's Linear/Conv layers on integer kernels with each activation quantized as it is used.
 */
export type WeightPrecision = 'auto' | 'fp32' | 'int8' | 'w8a8'
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['auto', 'fp32', 'int8', 'w8a8']

export function isInt8Weight(key: string, shape: readonly number[]): boolean {
  if (!key.endsWith('.weight') || (shape.length !== 2 && shape.length !== 4)) return false
  if (shape.reduce((a, b) => a * b, 1) < MIN_VALUES) return false
  if (key.startsWith(UNET_PREFIX)) return true
  return TEXT_ENCODER_PREFIXES.some((p) => key.startsWith(p)) && !/embedding/.test(key)
}
