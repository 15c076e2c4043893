/**
 * node-sd-webui 0.0.8 ships types but its package.json `exports` does not point at them, so NodeNext resolution
 * cannot find them; this declares the part of its API the server tests use (same names and shapes as its types/).
 */
declare module 'node-sd-webui' {
  interface Txt2ImgOptions {
    prompt: string; negativePrompt?: string; seed?: number; samplingMethod?: string; batchSize?: number; batchCount?: number
    steps?: number; width?: number; height?: number; cfgScale?: number; restoreFaces?: boolean
  }
  interface ImageResponse { images: string[]; parameters: Record<string, unknown>; info: string }
  interface Client {
    apiUrl: string
    txt2img(options: Txt2ImgOptions): Promise<ImageResponse>
    pngInfo(options: { imageData: string }): Promise<Record<string, unknown>>
  }
  const sdwebui: (props?: { apiUrl?: string }) => Client
  export default sdwebui
}
