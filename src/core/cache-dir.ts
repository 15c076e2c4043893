import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/**
 * sdloom's cache folder (downloaded models, tokenizer files): `SDLOOM_CACHE`, else `$XDG_CACHE_HOME/sdloom`,
 * else `~/.cache/sdloom`. Empty variables count as unset (as the XDG spec says). Always absolute.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SDLOOM_CACHE) return resolve(env.SDLOOM_CACHE)
  if (env.XDG_CACHE_HOME) return resolve(env.XDG_CACHE_HOME, 'sdloom')
  return join(homedir(), '.cache', 'sdloom')
}
