// Recognises CREATE DATABASE / DROP DATABASE in a simple-protocol Query message, with just enough of
// PostgreSQL's lexer (scan.l: comments, quoted identifiers, strings) to find the statement's words. The
// main thread answers these statements itself: each database is its own PGlite cluster (docs/databases.md).

export interface CreateDatabase {
  kind: 'create'
  /** the database name as PostgreSQL folds it (unquoted: lower case), truncated to 63 bytes */
  name: string
  /** the name as written, when longer than NAMEDATALEN - 1 bytes (PostgreSQL NOTICEs the truncation) */
  truncatedFrom?: string
  /** the statement's text without its trailing semicolon and comments */
  text: string
  /** options by lower-case name (`connection_limit` for CONNECTION LIMIT); null = DEFAULT */
  options: Map<string, string | null>
}

export interface DropDatabase {
  kind: 'drop'
  name: string
  ifExists: boolean
  force: boolean
}

export type DatabaseCommand = CreateDatabase | DropDatabase

type Token = {
  kind: 'word' | 'ident' | 'string' | 'number' | 'op'
  value: string
  start: number
  end: number
}

/** PostgreSQL's NAMEDATALEN - 1: identifiers are truncated to this many bytes. */
const MAX_IDENT_BYTES = 63

/** Tokens of `sql`; null when the lexer meets something it does not handle (the statement goes to PostgreSQL). */
function lex(sql: string): Token[] | null {
  const out: Token[] = []
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n' && sql[i] !== '\r') i++
    } else if (c === '/' && sql[i + 1] === '*') {
      // comments nest (scan.l xc)
      let depth = 1
      i += 2
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++
          i += 2
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--
          i += 2
        } else i++
      }
      if (depth > 0) return null
    } else if (c === '"') {
      let v = ''
      let j = i + 1
      for (;;) {
        if (j >= n) return null
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') {
            v += '"'
            j += 2
            continue
          }
          break
        }
        v += sql[j]
        j++
      }
      out.push({ kind: 'ident', value: v, start: i, end: j + 1 })
      i = j + 1
    } else if (c === "'") {
      let v = ''
      let j = i + 1
      for (;;) {
        if (j >= n) return null
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            v += "'"
            j += 2
            continue
          }
          break
        }
        v += sql[j]
        j++
      }
      out.push({ kind: 'string', value: v, start: i, end: j + 1 })
      i = j + 1
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j]!)) j++
      // E'..', U&'..', B'..', X'..' strings and U&".." identifiers have escapes we do not decode
      if (sql[j] === "'" || sql[j] === '&') return null
      out.push({
        kind: 'word',
        value: sql.slice(i, j).replace(/[A-Z]+/g, (s) => s.toLowerCase()),
        start: i,
        end: j,
      })
      i = j
    } else if (/[0-9.]/.test(c) || (c === '-' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      let j = i + 1
      while (j < n && /[0-9.eE]/.test(sql[j]!)) j++
      out.push({ kind: 'number', value: sql.slice(i, j), start: i, end: j })
      i = j
    } else if ('=(),;'.includes(c)) {
      out.push({ kind: 'op', value: c, start: i, end: i + 1 })
      i++
    } else if (c === '$') {
      return null // dollar quotes and parameters: not a database command
    } else {
      out.push({ kind: 'op', value: c, start: i, end: i + 1 })
      i++
    }
  }
  return out
}

/** Truncate to 63 bytes on a character boundary, as truncate_identifier does. */
function truncate(name: string): string {
  const bytes = Buffer.from(name, 'utf8')
  if (bytes.length <= MAX_IDENT_BYTES) return name
  let len = MAX_IDENT_BYTES
  while (len > 0 && (bytes[len]! & 0xc0) === 0x80) len--
  return bytes.subarray(0, len).toString('utf8')
}

const isName = (t: Token | undefined): t is Token => t?.kind === 'word' || t?.kind === 'ident'

/**
 * The database command in a Query message's text, or null when the text is anything else — including
 * several statements (PostgreSQL itself then refuses CREATE/DROP DATABASE in the implicit transaction
 * block, 25001) and DROP DATABASE forms this parser does not know (PostgreSQL reports their syntax error).
 */
export function parseDatabaseCommand(sql: string): DatabaseCommand | null {
  if (!/database/i.test(sql)) return null // the common case: not even the word
  const all = lex(sql)
  if (!all) return null
  // one statement: semicolons only at the end
  let end = all.length
  while (end > 0 && all[end - 1]!.value === ';' && all[end - 1]!.kind === 'op') end--
  const t = all.slice(0, end)
  if (t.some((x) => x.kind === 'op' && x.value === ';')) return null
  if (t[1]?.kind !== 'word' || t[1].value !== 'database') return null
  if (t[0]?.kind === 'word' && t[0].value === 'create') return parseCreate(sql, t)
  if (t[0]?.kind === 'word' && t[0].value === 'drop') return parseDrop(t)
  return null
}

function parseCreate(sql: string, t: Token[]): CreateDatabase | null {
  const nameTok = t[2]
  if (!isName(nameTok)) return null
  const name = truncate(nameTok.value)
  const options = new Map<string, string | null>()
  let i = 3
  if (t[i]?.kind === 'word' && t[i]!.value === 'with') i++
  // lenient: what this cannot read is left to PostgreSQL (in the helper), which reports it
  while (i < t.length) {
    let opt = t[i]
    if (!isName(opt)) break
    let key = opt.value
    if (key === 'connection' && t[i + 1]?.value === 'limit') {
      key = 'connection_limit'
      i++
      opt = t[i]
    }
    i++
    if (t[i]?.kind === 'op' && t[i]!.value === '=') i++
    const v = t[i]
    if (!v || (v.kind === 'op' && v.value !== '-')) break
    options.set(key, v.kind === 'word' && v.value === 'default' ? null : v.value)
    i++
  }
  const last = t[t.length - 1]!
  return {
    kind: 'create',
    name,
    ...(name !== nameTok.value ? { truncatedFrom: nameTok.value } : {}),
    text: sql.slice(0, last.end),
    options,
  }
}

function parseDrop(t: Token[]): DropDatabase | null {
  let i = 2
  let ifExists = false
  if (t[i]?.value === 'if' && t[i + 1]?.value === 'exists' && t[i]?.kind === 'word') {
    ifExists = true
    i += 2
  }
  const nameTok = t[i]
  if (!isName(nameTok)) return null
  i++
  let force = false
  const withWord = t[i]?.kind === 'word' && t[i]!.value === 'with'
  if (withWord) i++
  // gram.y: DROP DATABASE name opt_with '(' drop_option_list ')': WITH alone is a syntax error
  if (withWord && t[i]?.value !== '(') return null
  if (t[i]?.value === '(') {
    i++
    for (;;) {
      if (t[i]?.kind !== 'word' || t[i]!.value !== 'force') return null
      force = true
      i++
      if (t[i]?.value === ',') {
        i++
        continue
      }
      if (t[i]?.value !== ')') return null
      i++
      break
    }
  }
  if (i !== t.length) return null
  return { kind: 'drop', name: truncate(nameTok.value), ifExists, force }
}

/** A quoted identifier (quote_identifier, always quoted). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
