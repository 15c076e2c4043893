/*
 * Field rules of the request checks (validate.ts and its mode files): a type, an enum, whole numbers, required fields
 * and unknown keys, each issue naming its field path.
 */
import type { InputIssue } from '../core/errors.ts'

type Kind = 'string' | 'number' | 'boolean'
export type FieldRule = { readonly kind: Kind; readonly required?: boolean; readonly oneOf?: readonly string[]; readonly integer?: boolean }
export type Path = (string | number)[]

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function checkField(path: Path, v: unknown, rule: FieldRule): InputIssue | undefined {
  const name = path.join('.')
  if (typeof v !== rule.kind || (rule.kind === 'number' && !Number.isFinite(v as number))) {
    return { code: 'type', path, message: `${name} must be ${rule.kind === 'number' ? 'a finite number' : `a ${rule.kind}`}, got ${JSON.stringify(v) ?? String(v)}` }
  }
  if (rule.integer && !Number.isInteger(v)) return { code: 'type', path, message: `${name} must be a whole number, got ${String(v)}` }
  if (rule.oneOf && !rule.oneOf.includes(v as string)) return { code: 'enum', path, message: `${name} must be one of ${rule.oneOf.join(', ')}, got "${String(v)}"` }
  return undefined
}

export function checkObject(obj: Record<string, unknown>, rules: Readonly<Record<string, FieldRule>>, at: Path): InputIssue[] {
  const issues: InputIssue[] = []
  for (const [k, rule] of Object.entries(rules)) {
    const v = obj[k]
    if (v === undefined) {
      if (rule.required) issues.push({ code: 'required', path: [...at, k], message: `${[...at, k].join('.')} is required` })
      continue
    }
    const issue = checkField([...at, k], v, rule)
    if (issue) issues.push(issue)
  }
  return issues
}

export function unknownKeys(obj: Record<string, unknown>, rules: Readonly<Record<string, unknown>>, at: Path): InputIssue[] {
  return Object.keys(obj).filter((k) => !(k in rules)).map((k) => ({
    code: 'unrecognized', path: [...at, k], message: `${[...at, k].join('.')}: unknown field (known: ${Object.keys(rules).join(', ')})`,
  }))
}
