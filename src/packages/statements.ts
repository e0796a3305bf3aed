// Recognises the package commands the main thread runs itself — `CALL pyglite.install('req', …)`,
// `CALL pyglite.uninstall('name', …)`, `CALL pyglite.sync()` — in a statement's text (wire/intercept.ts finds
// it in a Query or Parse message). A pip run
// takes seconds to minutes: it must not hold the engine thread (docs/packages.md).

export type PackageCommand =
  | { kind: 'install'; requirements: string[] }
  | { kind: 'uninstall'; names: string[] }
  | { kind: 'sync' }

type Token = { kind: 'word' | 'string' | 'op'; value: string }

/**
 * Words (lower-cased), standard-conforming string literals and punctuation; null for anything this does
 * not read (E'' strings, dollar quotes, parameters, quoted identifiers): the statement then goes to
 * PostgreSQL, where the pyglite schema's procedure explains how to call it (schema.ts).
 */
function lex(sql: string): Token[] | null {
  const out: Token[] = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (/\s/.test(c)) i++
    else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++
    } else if (c === '/' && sql[i + 1] === '*') {
      const e = sql.indexOf('*/', i + 2)
      if (e < 0 || sql.slice(i + 2, e).includes('/*')) return null // nested comments: leave to PostgreSQL
      i = e + 2
    } else if (c === "'") {
      let v = ''
      let j = i + 1
      for (;;) {
        if (j >= sql.length) return null
        if (sql[j] === "'") {
          if (sql[j + 1] !== "'") break
          v += "'"
          j += 2
          continue
        }
        v += sql[j]
        j++
      }
      out.push({ kind: 'string', value: v })
      i = j + 1
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++
      if (sql[j] === "'" || sql[j] === '&') return null
      out.push({ kind: 'word', value: sql.slice(i, j).toLowerCase() })
      i = j
    } else if ('.(),;'.includes(c)) {
      out.push({ kind: 'op', value: c })
      i++
    } else return null
  }
  return out
}

/** The package command in a statement's text, or null (then PostgreSQL runs the statement). */
export function parsePackageCommand(sql: string): PackageCommand | null {
  if (!/pyglite/i.test(sql)) return null
  const t = lex(sql)
  if (!t) return null
  let n = t.length
  while (n > 0 && t[n - 1]!.value === ';' && t[n - 1]!.kind === 'op') n--
  const w = (i: number, v: string) => t[i]?.kind === 'word' && t[i]!.value === v
  const op = (i: number, v: string) => t[i]?.kind === 'op' && t[i]!.value === v
  if (!w(0, 'call') || !w(1, 'pyglite') || !op(2, '.') || t[3]?.kind !== 'word' || !op(4, '(')) return null
  if (!op(n - 1, ')')) return null
  // the arguments: string literals separated by commas
  const inner = t.slice(5, n - 1)
  const args: string[] = []
  for (const [i, x] of inner.entries()) {
    if (i % 2 === 0 ? x.kind !== 'string' : !(x.kind === 'op' && x.value === ',')) return null
    if (i % 2 === 0) args.push(x.value)
  }
  if (inner.length % 2 === 0 && inner.length > 0) return null // a trailing comma
  switch (t[3]!.value) {
    case 'install':
      return args.length > 0 ? { kind: 'install', requirements: args } : null
    case 'uninstall':
      return args.length > 0 ? { kind: 'uninstall', names: args } : null
    case 'sync':
      return args.length === 0 ? { kind: 'sync' } : null
    default:
      return null
  }
}
