/**
 * The one place where errors become HTTP answers. Bodies follow A1111 (a1111-api.md §1): request-validation
 * failures are FastAPI's `422 {detail: [{loc, msg, type}]}`; everything else is A1111's envelope
 * `{error, detail, body, errors}`. SdError messages are written for users and name files by their base name only;
 * any other error is reported as "internal error" (logged with its stack, never sent), so no stack trace or path
 * leaks to a client.
 */
import { SdError } from '../core/errors.ts'

/** Status by error class name (or `code`, where an error carries one). Unlisted SdErrors are 400: the request asked for it. */
const STATUS: Readonly<Record<string, number>> = {
  InputError: 400,
  LibraryNameError: 400,
  LimitError: 400,
  UnknownModelError: 400,
  ModelMismatchError: 400,
  PngError: 400,
  TensorFileError: 500,
  PickleSecurityError: 500,
  ShapeMismatchError: 500,
  MissingKeysError: 500,
  NetworkError: 502,
  QueueFullError: 429,
  JobNotFoundError: 404,
  AuthError: 401,
  NotFoundError: 404,
  PayloadTooLargeError: 413,
  ShuttingDownError: 503,
}

/** A route or resource that does not exist (A1111's `404 {"detail": "Not Found"}`). */
export class NotFoundError extends SdError {
  override name = 'NotFoundError'
}

/** A request over one of the server's limits (pixels, steps, batch, body size): the message names the limit and its flag. */
export class LimitError extends SdError {
  override name = 'LimitError'
}

/** Missing or wrong credentials. */
export class AuthError extends SdError {
  override name = 'AuthError'
}

/** The server is stopping and takes no new jobs. */
export class ShuttingDownError extends SdError {
  override name = 'ShuttingDownError'
}

/** One request-validation problem, FastAPI/pydantic v1 style. */
export interface ValidationIssue {
  readonly loc: readonly (string | number)[]
  readonly msg: string
  readonly type: string
}

/** Invalid request JSON or a field of the wrong type: answered 422 like FastAPI. */
export class RequestValidationError extends SdError {
  override name = 'RequestValidationError'
  constructor(readonly issues: readonly ValidationIssue[]) {
    super(issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '))
  }
}

export interface HttpAnswer {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

export function statusOf(e: SdError): number {
  const code = (e as { code?: unknown }).code
  return (typeof code === 'string' ? STATUS[code] : undefined) ?? STATUS[e.name] ?? 400
}

/** The answer for any thrown value; `log` receives what must not be sent (internal errors with their stack). */
export function toHttpAnswer(e: unknown, log: (err: unknown) => void): HttpAnswer {
  if (e instanceof RequestValidationError) return { status: 422, body: { detail: e.issues } }
  if (e instanceof NotFoundError) return { status: 404, body: { detail: 'Not Found' } }
  if (e instanceof AuthError) {
    return { status: 401, body: { error: 'HTTPException', detail: e.message, body: '', errors: e.message }, headers: { 'www-authenticate': 'Basic' } }
  }
  if (e instanceof SdError) return { status: statusOf(e), body: { error: e.name, detail: e.message, body: '', errors: e.message } }
  log(e)
  const message = 'internal error; the server log has the details'
  return { status: 500, body: { error: 'InternalError', detail: message, body: '', errors: message } }
}
