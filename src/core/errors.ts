import { basename } from 'node:path'

/** 'TensorFileError' → 'tensor-file': every class has a code without declaring one. */
const kebabOfName = (name: string): string =>
  name.replace(/Error$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase() || 'error'

/**
 * Base of every error sdloom raises on purpose. `code` is machine-readable ('input', 'tensor-file', 'model-mismatch',
 * or a finer one given where it is thrown): the faces map it (cli/exit-codes.ts to an exit status, the server to an
 * HTTP status); the message is for people.
 */
export class SdError extends Error {
  override name = 'SdError'
  readonly #code: string | undefined
  constructor(message?: string, options?: { readonly code?: string; readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.#code = options?.code
  }

  get code(): string { return this.#code ?? kebabOfName(this.name) }
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

/** One problem of a request, zod-style: `path` names the field (['loras', 0, 'weight']), `code` what is wrong. */
export interface InputIssue {
  readonly code: string
  readonly path: readonly (string | number)[]
  readonly message: string
}

/**
 * A user-supplied option or argument is invalid. `issues` lists every problem found (one, naming no field, when
 * thrown with a message only); the message is the issues' messages joined.
 */
export class InputError extends SdError {
  override name = 'InputError'
  readonly issues: readonly InputIssue[]
  constructor(messageOrIssues: string | readonly InputIssue[]) {
    const issues = typeof messageOrIssues === 'string' ? [{ code: 'invalid', path: [], message: messageOrIssues }] : messageOrIssues
    super(issues.map((i) => i.message).join('; '), { code: 'input' })
    this.issues = issues
  }
}

/** A network or download problem. */
export class NetworkError extends SdError {
  override name = 'NetworkError'
}
