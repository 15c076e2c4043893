import { basename } from 'node:path'

/** Base of every error sdloom raises on purpose; the CLI prints its message on one line and exits non-zero. */
export class SdError extends Error {
  override name = 'SdError'
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1
}

/** A tensor file (safetensors, pickle checkpoint) is malformed or unsupported. */
export class TensorFileError extends SdError {
  override name = 'TensorFileError'
  constructor(readonly file: string, readonly tensor: string | undefined, readonly detail: string) {
    super(`${basename(file)}${tensor !== undefined ? `: tensor "${tensor}"` : ''}: ${detail}`)
  }
}

/** A pickle asked for something we never execute (a global outside the allow-list, or a malformed opcode stream). */
export class PickleSecurityError extends SdError {
  override name = 'PickleSecurityError'
  constructor(readonly file: string, readonly global: string, detail = '') {
    super(`${basename(file)}: refused to load: the pickle references "${global}", which is not on the allow-list of `
      + `tensor-rebuilding globals${detail ? ` (${detail})` : ''}. Nothing was executed. `
      + `Hint: this file may be malicious; if you trust its source, convert it with the tool that made it to .safetensors.`)
  }
}

/** A tensor's shape differs from what the architecture (inferred from other tensors) requires. */
export class ShapeMismatchError extends SdError {
  override name = 'ShapeMismatchError'
  constructor(readonly file: string, readonly tensor: string, readonly expected: readonly number[],
    readonly found: readonly number[], hint = '') {
    super(`${basename(file)}: tensor "${tensor}": expected [${expected.join(', ')}], found [${found.join(', ')}].`
      + (hint ? ` Hint: ${hint}` : ''))
  }
}

/** Keys a network needs are absent from the file. */
export class MissingKeysError extends SdError {
  override name = 'MissingKeysError'
  constructor(readonly file: string, readonly missing: readonly string[], readonly family = '') {
    super(`${basename(file)}: ${missing.length} tensor(s) missing${family ? ` for a ${family} model` : ''}: `
      + `${missing.slice(0, 10).map((k) => `"${k}"`).join(', ')}${missing.length > 10 ? ', …' : ''}`)
  }
}

/** The file is not a model sdloom can identify or run. */
export class UnknownModelError extends SdError {
  override name = 'UnknownModelError'
  constructor(readonly file: string, detail: string) { super(`${basename(file)}: ${detail}`) }
}

/** An adapter or component made for one architecture was given to another. */
export class ModelMismatchError extends SdError {
  override name = 'ModelMismatchError'
  constructor(readonly file: string, detail: string) { super(`${basename(file)}: ${detail}`) }
}

/** A user-supplied option or argument is invalid. */
export class InputError extends SdError {
  override name = 'InputError'
  override readonly exitCode: number = 2
}

/** A network or download problem. */
export class NetworkError extends SdError {
  override name = 'NetworkError'
}
