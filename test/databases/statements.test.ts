// The recogniser of CREATE/DROP DATABASE statements (src/databases/statements.ts): what it takes, what it
// leaves to PostgreSQL, and the message scan of the wire layer (src/wire/intercept.ts).
import { describe, expect, it } from 'vitest'
import { parseDatabaseCommand } from '../../src/databases/statements.js'
import { trailingReadyStatus } from '../../src/engine/sessions/backend-stream.js'
import { findDatabaseCommand } from '../../src/wire/intercept.js'

describe('parseDatabaseCommand', () => {
  it('reads CREATE DATABASE with comments, quoting, case folding and options', () => {
    const c = parseDatabaseCommand(
      `/* a /* nested */ comment */ Create -- line comment\n DATABASE "My DB" WITH OWNER = bob TEMPLATE template0 CONNECTION LIMIT -1 ENCODING 'UTF8' ;; -- end`,
    )
    expect(c?.kind).toBe('create')
    if (c?.kind !== 'create') return
    expect(c.name).toBe('My DB')
    expect(Object.fromEntries(c.options)).toEqual({
      owner: 'bob',
      template: 'template0',
      connection_limit: '-1',
      encoding: 'UTF8',
    })
    // the text PostgreSQL gets in the helper keeps everything up to the last word (positions stay right)
    expect(c.text.endsWith("ENCODING 'UTF8'")).toBe(true)
    expect(parseDatabaseCommand('create database TestX')).toMatchObject({ name: 'testx' })
    expect(parseDatabaseCommand('create database x owner default')).toMatchObject({
      options: new Map([['owner', null]]),
    })
  })

  it('truncates names to 63 bytes on a character boundary, as PostgreSQL does', () => {
    const long = 'é'.repeat(40) // 80 bytes
    const c = parseDatabaseCommand(`CREATE DATABASE "${long}"`)
    expect(c).toMatchObject({ name: 'é'.repeat(31), truncatedFrom: long })
  })

  it('reads DROP DATABASE [IF EXISTS] name [[WITH] (FORCE)]', () => {
    expect(parseDatabaseCommand('DROP DATABASE x')).toEqual({
      kind: 'drop',
      name: 'x',
      ifExists: false,
      force: false,
    })
    expect(parseDatabaseCommand('drop database if exists "X" with (force)')).toEqual({
      kind: 'drop',
      name: 'X',
      ifExists: true,
      force: true,
    })
    expect(parseDatabaseCommand('DROP DATABASE x (FORCE, FORCE);')).toMatchObject({ force: true })
  })

  it('leaves everything else to PostgreSQL', () => {
    for (const sql of [
      'SELECT 1',
      "SELECT 'create database x'",
      'SELECT 1; CREATE DATABASE x', // several statements: PostgreSQL refuses with 25001
      'CREATE DATABASE x; SELECT 1',
      'DROP DATABASE x WITH (SOMETHING)', // PostgreSQL reports the syntax error
      'DROP DATABASE x WITH',
      "CREATE DATABASE x ENCODING E'UTF8'", // escapes we do not decode
      'CREATE DATABASE $1',
      'ALTER DATABASE x RENAME TO y',
      'CREATE DATABASE /* unterminated',
      'CREATE DATABASE',
    ])
      expect(parseDatabaseCommand(sql), sql).toBeNull()
  })
})

const enc = new TextEncoder()
function message(type: string, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(5 + body.length)
  m[0] = type.charCodeAt(0)
  new DataView(m.buffer).setInt32(1, 4 + body.length)
  m.set(body, 5)
  return m
}
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
const query = (sql: string) => message('Q', enc.encode(`${sql}\0`))
const parse = (sql: string) => message('P', cat(enc.encode(`\0${sql}\0`), new Uint8Array([0, 0])))

describe('findDatabaseCommand', () => {
  it('finds a Query among other messages, and a Parse with its batch up to Sync', () => {
    const q1 = query('SELECT 1')
    const q2 = query('CREATE DATABASE a')
    const found = findDatabaseCommand(cat(q1, q2, query('SELECT 2')))
    expect(found).toMatchObject({ start: q1.length, end: q1.length + q2.length, extended: false })
    const p = parse('DROP DATABASE b')
    const bind = message('B', new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]))
    const exec = message('E', new Uint8Array([0, 0, 0, 0, 0]))
    const sync = message('S', new Uint8Array(0))
    const batch = cat(p, bind, exec, sync, query('SELECT 3'))
    expect(findDatabaseCommand(batch)).toMatchObject({
      start: 0,
      end: p.length + bind.length + exec.length + sync.length,
      extended: true,
      command: { kind: 'drop', name: 'b' },
    })
    expect(findDatabaseCommand(cat(q1, parse('SELECT $1 AS database')))).toBeNull()
  })

  it('reads the transaction status of a trailing ReadyForQuery', () => {
    expect(trailingReadyStatus(cat(message('C', enc.encode('BEGIN\0')), message('Z', enc.encode('T'))))).toBe(
      0x54,
    )
    expect(trailingReadyStatus(message('C', enc.encode('SELECT 1\0')))).toBeNull()
  })
})
