/**
 * sampling/: noise, schedules, denoisers and samplers (k-diffusion @ ab527a9 as A1111 @ c8a5322d runs it).
 *
 * Glossary (used throughout this folder):
 *   x          the noisy latent [B, C, H, W], float32, in k-diffusion's scaling (x = x0 + σ·noise)
 *   sigma (σ)  the noise level; a schedule `sigmas` is descending and ends with 0
 *   sigmaNext  sigmas[i + 1]
 *   sigmaHat   σ after churn (= σ here: churn is off, as in A1111)
 *   t          the model's (fractional) training timestep, sigma_to_t(σ) ∈ [0, 999]
 *   ᾱ (alphasCumprod)  the DDPM cumulative product of (1 − β); σ = √((1 − ᾱ)/ᾱ)
 *   denoised   D(x; σ), the model's estimate of the clean latent x0
 *   d          (x − denoised)/σ, the probability-flow ODE slope dx/dσ
 *   eps / v    what the network predicts: noise (SD1, SDXL) or velocity (SD2 768-v)
 *   cond/uncond  rows of a batched model call with the prompt's / the negative prompt's conditioning
 */
export { ImageRng, RANDN_SOURCES, batchSeeds, createGenerator } from './rng/image-rng.ts'
export type { ImageRngOptions, NoiseGenerator, RandnSource } from './rng/image-rng.ts'
export { TorchCpuGenerator, torchRandn } from './rng/torch-cpu.ts'
export { PhiloxGenerator } from './rng/philox.ts'
export {
  TRAIN_STEPS, getSigmasDiscrete, getSigmasExponential, getSigmasKarras, getSigmasPolyexponential,
  getSigmasSgmUniform, getSigmasSimple, modelSchedule, scaledLinearAlphasCumprod, sigmaToT, tToSigma,
} from './schedules.ts'
export type { ModelSchedule } from './schedules.ts'
export { SCHEDULERS, findScheduler, resolveScheduler, sigmasFor } from './schedulers.ts'
export type { ConcreteSchedulerId, ScheduleContext, SchedulerId } from './schedulers.ts'
export { AYS_TABLES, getSigmasAlignYourSteps, getSigmasBeta, getSigmasDdim, getSigmasKlOptimal, getSigmasNormal } from './schedules-a1111.ts'
export { lcmDenoising } from './denoiser-lcm.ts'
export { cfgEpsModel } from './cfg-timestep.ts'
export { compVisScalings } from './denoiser.ts'
export type { BatchRow, Denoiser, DenoiserVariant, ModelBatch, ModelFn, Parameterization, Scalings } from './denoiser.ts'
export { cfgDenoiser, cfgModelOutput, cfgRows, plainDenoiser } from './cfg.ts'
export type { CfgSpec, DenoiserOptions } from './cfg.ts'
export { SAMPLERS, resolveSampler, resolveSamplerChoice, resolveSamplerId } from './samplers/index.ts'
export type { DdimSampler, KDiffusionSampler, SamplerChoice, SamplerEntry, SamplerId, SamplerTraits, TimestepSamplerEntry } from './samplers/index.ts'
export type { NoiseSampler, Sampler, SamplerOptions, StepInfo } from './samplers/common.ts'
export { a1111Timesteps } from './samplers/timestep.ts'
export type { EpsModel, EpsOutput, TimestepRun, TimestepSampler } from './samplers/timestep.ts'
export { ddimTimesteps, diffusersScaledLinearAlphasCumprod, sampleDdim } from './samplers/ddim.ts'
export type { DdimOptions, TimestepModel } from './samplers/ddim.ts'
export { effectiveScheduler, img2imgScheduleSteps, img2imgSigmas, resolveSamplerAndSchedule, sample, samplerSigmas, scheduleTypeLabel } from './run.ts'
export { blendLatent, maskedDenoiser, type LatentMask } from './inpaint-blend.ts'
export type { Img2ImgStart, SampleRequest, SampleResult, SamplerParams } from './run.ts'
export { SAMPLER_FIELD_NAMES, samplerInfotext, samplerInfotextFields, samplerParamsFromInfotext } from './sampler-infotext.ts'
