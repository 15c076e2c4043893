/* Sampler goldens (see sampler-goldens.ts): sd1 at 64x64, seed 42, all seven samplers. */
import { FAMILIES, samplerGoldenTests } from './sampler-goldens.ts'

samplerGoldenTests(FAMILIES.sd1, '.64x64')
