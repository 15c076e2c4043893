/*
 * One-line notices for options that run but do not do what a user may expect, so nothing is ignored silently
 * (issue #14). Each follows A1111 1.10: what it accepts is accepted, and the infotext records it as A1111 does.
 */
import type { Arch } from '../pipeline/load-model.ts'

/** A1111's UI CFG slider (ui.py: minimum 1, maximum 30, step 0.5); its API takes any number, and so does sdloom. */
export const A1111_UI_CFG = { min: 1, max: 30 } as const

export function cfgNotice(cfg: number | undefined): string | undefined {
  if (cfg === undefined || (cfg >= A1111_UI_CFG.min && cfg <= A1111_UI_CFG.max)) return undefined
  return cfg < A1111_UI_CFG.min
    ? `note: --cfg ${cfg} is below A1111's UI minimum of ${A1111_UI_CFG.min} (its API accepts it, so sdloom does): `
      + `at 0 the prompt is ignored and the negative prompt alone guides the image; below 0 the image is pushed away from the prompt`
    : `note: --cfg ${cfg} is above A1111's UI maximum of ${A1111_UI_CFG.max} (its API accepts it, so sdloom does); expect burnt, oversaturated images`
}

const FAMILY: Record<Arch, string> = { sd1: 'SD1.x', sd2: 'SD2.x', sdxl: 'SDXL' }

/**
 * A1111 1.10 applies "Clip skip" to SD1's CLIP only: SD2's OpenCLIP ignores it (sd_hijack_open_clip.py) and so does
 * SDXL unless the "Clip skip SDXL" setting (sdxl_clip_l_skip, off by default) is on. It still writes "Clip skip: N"
 * into the infotext, and so does sdloom, so the image reproduces in A1111.
 */
export function clipSkipNotice(arch: Arch, clipSkip: number | undefined): string | undefined {
  if (arch === 'sd1' || clipSkip === undefined || clipSkip <= 1) return undefined
  return `note: --clip-skip ${clipSkip} has no effect on ${FAMILY[arch]} checkpoints (as in A1111 1.10, whose "Clip skip SDXL" `
    + 'setting is off by default); the infotext records it as A1111 does'
}
