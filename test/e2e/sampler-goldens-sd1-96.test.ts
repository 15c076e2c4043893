/* Sampler goldens (see sampler-goldens.ts): sd1 at height 96, width 64 (A1111-mode UNet), seed 1234. */
import { FAMILIES, samplerGoldenTests } from './sampler-goldens.ts'

samplerGoldenTests(FAMILIES.sd1, '.h96w64')
