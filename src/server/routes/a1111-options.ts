/** `/sdapi/v1/options` GET/POST (a1111-api.md §7). A checkpoint is resolved (and its hash computed) when set. */
import type { FastifyInstance } from 'fastify'
import { InputError } from '../../core/errors.ts'
import { checkpointTitle, findByName } from '../../library/names.ts'
import type { ServerContext } from '../context.ts'

/** The checkpoint title a name refers to; '' → the library's first usable checkpoint (A1111 loads one at start). */
export function checkpointFor(ctx: ServerContext, ref: string): string {
  const checkpoints = ctx.library.list('checkpoint').filter((e) => e.error === undefined)
  if (ref === '') {
    if (checkpoints.length === 0) throw new InputError('the model library has no checkpoint. Hint: put a .safetensors checkpoint in models/Stable-diffusion (A1111) or models/checkpoints (ComfyUI) and refresh')
    return checkpointTitle(checkpoints[0])
  }
  return checkpointTitle(findByName(checkpoints, 'checkpoint', ref))
}

export function a1111OptionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/sdapi/v1/options', async () => {
    const o = ctx.options.get()
    let current = o.sd_model_checkpoint
    try { current = checkpointFor(ctx, o.sd_model_checkpoint) } catch { /* an empty library: the option stays as saved */ }
    return { ...o, sd_model_checkpoint: current, sd_checkpoint_hash: /\[([0-9a-f]{10})\]$/.exec(current)?.[1] ?? '' }
  })
  app.post('/sdapi/v1/options', { schema: { body: { type: 'object' } } }, async (req) => {
    const body = req.body as Record<string, unknown>
    const ckpt = body.sd_model_checkpoint
    if (typeof ckpt === 'string' && ckpt !== '') {
      // A1111 loads the model here; sdloom hashes it (for its title) and loads it with the next job.
      const entry = findByName(ctx.library.list('checkpoint').filter((e) => e.error === undefined), 'checkpoint', ckpt)
      await ctx.library.hashes(entry)
    }
    await ctx.options.set(body, { checkpoint: (ref) => checkpointFor(ctx, ref) })
    return null
  })
}
