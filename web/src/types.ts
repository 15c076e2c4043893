/** The shapes of the server's answers that the page reads (the server's routes are the reference). */
export interface LibraryEntry {
  readonly kind: 'checkpoint' | 'vae' | 'lora' | 'embedding'
  readonly file: string
  readonly folder: string
  readonly rel: string
  readonly size: number
  readonly error?: string
  readonly sha256?: string
  readonly inspect?: {
    readonly detected: string; readonly arch: string; readonly archLabel: string; readonly supported: boolean
    readonly algorithms?: readonly string[]; readonly ranks?: readonly number[]; readonly alphas?: readonly number[]
    readonly outputName?: string; readonly trainingTags?: readonly string[]; readonly vectors?: number
  }
  readonly sidecars: {
    readonly preview?: string
    readonly userMetadata?: Readonly<Record<string, unknown>>
    readonly civitai?: { readonly baseModel?: string; readonly trainedWords: readonly string[] }
  }
}

export interface SdModel { readonly title: string; readonly model_name: string; readonly hash: string | null; readonly filename: string }
export interface SdVae { readonly model_name: string; readonly filename: string }
export interface Sampler { readonly name: string; readonly aliases: readonly string[] }
export interface Scheduler { readonly name: string; readonly label: string }

export interface JobImage { readonly index: number; readonly seed: number; readonly infotext: string; readonly url: string | null }
/** The queue's view of a job's request (null for a job that is not a generation). */
export interface JobSummary {
  /** 'txt2img', 'img2img', … */
  readonly mode: string
  readonly prompt: string; readonly negativePrompt: string; readonly model: string; readonly width: number | null; readonly height: number | null
  readonly steps: number | null; readonly sampler: string | null; readonly images: number
}
export interface JobView {
  readonly id: string; readonly state: string; readonly position: number | null; readonly createdAt: number; readonly summary: JobSummary | null
  readonly error: { readonly name: string; readonly message: string } | null; readonly images: readonly JobImage[]
}
export interface GalleryImage {
  readonly jobId: string; readonly index: number; readonly seed: number; readonly infotext: string; readonly createdAt: number; readonly url: string | null
  /** Pass as `before` to get the images after this one. */
  readonly cursor: string
}
export interface PngInfo { readonly info: string; readonly items: Readonly<Record<string, string>>; readonly parameters: Readonly<Record<string, string>> }

/** Everything the generate view picks from. */
export interface Catalog {
  readonly checkpoints: readonly SdModel[]
  readonly vaes: readonly SdVae[]
  readonly samplers: readonly Sampler[]
  readonly schedulers: readonly Scheduler[]
  readonly library: readonly LibraryEntry[]
  readonly tags: readonly (readonly [string, number])[]
  /** Hires fix upscalers by name: the latent modes, then Lanczos, Nearest and the library's ESRGAN-family models. */
  readonly upscalers: readonly string[]
}
