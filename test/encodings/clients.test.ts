// Client encodings with real clients, pyglite against a real PostgreSQL 15 started for this file: for every
// encoding a UTF8 database accepts, psql (PGCLIENTENCODING) runs the same script on both — characters of that
// encoding in COPY FROM STDIN, SELECT, COPY TO STDOUT, COPY … (ENCODING …) both ways, the 22P05
// unconvertible-character error, invalid bytes (22021) — and the outputs must be the same bytes; a raw
// start-up packet with client_encoding connects beside another client's open transaction, which survives and
// commits; node-postgres with SET client_encoding; psycopg2 set_client_encoding.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fields, message, parameters, RawClient, rows } from '../helpers/raw.js'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { repertoire } from './repertoire.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))

let glite: TestServer
let ref: Reference
let refc: pg.Client
let encodings: string[]
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-enc-'))

beforeAll(async () => {
  ;[glite, ref] = await Promise.all([startServer(), startReference()])
  refc = new pg.Client(ref.url)
  await refc.connect()
  await refc.query(`CREATE FUNCTION pg_temp.try_conv(src text, f name) RETURNS text LANGUAGE plpgsql AS $$
    BEGIN RETURN convert_from(decode(src, 'hex'), f); EXCEPTION WHEN others THEN RETURN NULL; END $$`)
  const r = await refc.query<{ e: string }>(
    `SELECT DISTINCT pg_encoding_to_char(contoencoding) AS e FROM pg_conversion
     WHERE conforencoding = pg_char_to_encoding('UTF8') ORDER BY 1`,
  )
  encodings = ['SQL_ASCII', 'UTF8', ...r.rows.map((x) => x.e)]
}, 120_000)
afterAll(async () => {
  await refc?.end()
  ref?.stop()
  await glite?.stop()
  fs.rmSync(work, { recursive: true, force: true })
})

/** Up to n characters of the encoding (as its bytes) that PostgreSQL 15 converts to UTF8, spread out. */
async function characters(enc: string, n: number): Promise<Buffer[]> {
  const candidates = repertoire(enc === 'SQL_ASCII' ? 'LATIN1' : enc).filter(
    (x) => x.length > 2 || (x >= '20' && x !== '7f'),
  )
  const step = Math.max(1, Math.floor(candidates.length / (n * 4)))
  const picked = candidates.filter((_, i) => i % step === 0)
  const r = await refc.query<{ x: string; ok: string | null }>(
    'SELECT x, pg_temp.try_conv(x, $2) AS ok FROM unnest($1::text[]) x',
    [picked, enc === 'SQL_ASCII' ? 'SQL_ASCII' : enc],
  )
  const good = r.rows.filter((row) => row.ok !== null && row.ok !== '' && !/[\t\n\r\\']/.test(row.ok))
  const every = Math.max(1, Math.floor(good.length / n))
  return good
    .filter((_, i) => i % every === 0)
    .slice(0, n)
    .map((row) => Buffer.from(row.x, 'hex'))
}

/** The psql script, in the client encoding's bytes. */
function script(enc: string, chars: Buffer[]): Buffer {
  const t = `enc_${enc.toLowerCase()}`
  const lines: Buffer[] = []
  for (let i = 0; i < chars.length; i += 8) {
    lines.push(Buffer.concat([Buffer.from(`${i}\t`), ...chars.slice(i, i + 8), Buffer.from('\n')]))
  }
  const bad = enc === 'UTF8' ? 'c328' : enc === 'GB18030' ? '8130' : '8d20' // invalid in that encoding
  return Buffer.concat([
    Buffer.from(`SHOW client_encoding;\nCREATE TABLE ${t} (n int, s text);\nCOPY ${t} FROM STDIN;\n`),
    ...lines,
    Buffer.from(`\\.\nSELECT n, s, length(s), encode(convert_to(s, 'UTF8'), 'hex') FROM ${t} ORDER BY n;\n`),
    Buffer.from(`COPY (SELECT * FROM ${t} ORDER BY n) TO STDOUT;\n`),
    // COPY's own ENCODING option, whatever the client's: out in UTF8 and in LATIN1 (22P05 for the others'
    // characters), in from LATIN1 bytes
    Buffer.from(`COPY (SELECT * FROM ${t} ORDER BY n) TO STDOUT (ENCODING 'UTF8');\n`),
    Buffer.from(`COPY (SELECT * FROM ${t} ORDER BY n) TO STDOUT (ENCODING 'LATIN1');\n`),
    Buffer.from(`COPY ${t} FROM STDIN (ENCODING 'LATIN1');\n2000\t`),
    Buffer.from('e974e9', 'hex'),
    Buffer.from(`\n\\.\nSELECT encode(convert_to(s, 'UTF8'), 'hex') FROM ${t} WHERE n = 2000;\n`),
    Buffer.from(`SELECT 'x' || U&'\\+01F600' AS unconvertible;\nSELECT U&'\\00E9\\0416\\4E2D' AS maybe;\n`),
    Buffer.from(`SELECT '`),
    Buffer.from(bad, 'hex'),
    Buffer.from(`' AS invalid;\nCOPY ${t} FROM STDIN;\n999\tok\n1000\t`),
    Buffer.from(bad, 'hex'),
    Buffer.from(`\n\\.\nSELECT count(*) FROM ${t};\n`),
  ])
}

function psql(url: string, enc: string, file: string): Buffer {
  const r = spawnSync('sh', ['-c', `psql -X -q -d "${url}" -f "${file}" 2>&1`], {
    env: { ...process.env, PGCLIENTENCODING: enc },
  })
  return r.stdout
}

describe('client encodings with real clients (compared with PostgreSQL 15)', () => {
  it('psql with PGCLIENTENCODING: COPY in/out, SELECT, 22P05 and 22021 give the same bytes', async () => {
    const differ: string[] = []
    for (const enc of encodings) {
      const file = path.join(work, `${enc}.sql`)
      fs.writeFileSync(file, script(enc, await characters(enc, 48)))
      const ours = psql(glite.url(), enc, file)
      const theirs = psql(ref.url, enc, file)
      if (!ours.equals(theirs))
        differ.push(`${enc}:\n${ours.toString('latin1')}\n--- PostgreSQL 15:\n${theirs.toString('latin1')}`)
      if (enc !== 'UTF8' && enc !== 'GB18030' && enc !== 'SQL_ASCII')
        expect(ours.toString('latin1')).toContain(
          `ERROR:  character with byte sequence 0xf0 0x9f 0x98 0x80 in encoding "UTF8" has no equivalent in encoding "${enc}"`,
        )
      expect(ours.toString('latin1')).not.toMatch(/FATAL|terminat|server closed/)
    }
    expect(differ).toEqual([])
  }, 300_000)

  it('an error or notice whose text has no equivalent in the client encoding is reported as PostgreSQL 15 does', async () => {
    // the first report fails in pg_server_to_client; PostgresMain's error block starts over and reports the
    // conversion error (it used to escape the block: FATAL "Program terminated with exit(100)")
    const file = path.join(work, 'untranslatable.sql')
    fs.writeFileSync(
      file,
      [
        "DO $$BEGIN RAISE EXCEPTION 'x %', chr(8364); END$$;",
        'SELECT 1;',
        "DO $$BEGIN RAISE WARNING 'w %', chr(8364); END$$;",
        'BEGIN;',
        "DO $$BEGIN RAISE EXCEPTION 'in a block %', chr(8364); END$$;",
        'SELECT 2;',
        'ROLLBACK;',
        "DO $$ plpy.notice('\u20ac') $$ LANGUAGE plpython3u;",
        "DO $$ plpy.error('\u20ac') $$ LANGUAGE plpython3u;",
        'SELECT 3;',
        '',
      ].join('\n'),
    )
    await refc.query('CREATE EXTENSION IF NOT EXISTS plpython3u')
    const g = new pg.Client(glite.url())
    await g.connect()
    await g.query('CREATE EXTENSION IF NOT EXISTS plpython3u')
    await g.end()
    const ours = psql(glite.url(), 'LATIN1', file)
    expect(ours.toString('latin1')).toContain(
      'ERROR:  character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"',
    )
    expect(ours.toString('latin1')).not.toMatch(/FATAL|terminat|server closed/)
    expect(ours.toString('latin1')).toEqual(psql(ref.url, 'LATIN1', file).toString('latin1'))
  }, 120_000)

  it('PL/Python and Python foreign tables refuse a LATIN1 database (0A000) instead of garbling its text', async () => {
    // they read the engine's text as UTF-8 (src/engine/pg/dbencoding.ts): return 'é' stored mojibake before
    const admin = new pg.Client(glite.url())
    await admin.connect()
    await admin.query(
      "CREATE DATABASE enc_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
    )
    await admin.query(
      "CREATE DATABASE enc_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
    )
    await admin.end()
    const l1 = new pg.Client(glite.url('enc_latin1'))
    await l1.connect()
    try {
      await l1.query('CREATE EXTENSION plpython3u; CREATE EXTENSION multicorn')
      const fails = async (q: string) => {
        const e = await l1.query(q).catch((x) => x)
        return [e.code, e.message, e.detail]
      }
      expect(await fails("CREATE FUNCTION r() RETURNS text LANGUAGE plpython3u AS $$ return 'é' $$")).toEqual(
        ['0A000', 'PL/Python needs a UTF8 database in pyglite', "This database's encoding is LATIN1."],
      )
      expect((await fails("DO $$ plpy.notice('é') $$ LANGUAGE plpython3u"))[0]).toBe('0A000')
      // a restore (check_function_bodies off) still creates the function; calling it is refused
      await l1.query(
        "SET check_function_bodies = off; CREATE FUNCTION r() RETURNS text LANGUAGE plpython3u AS $$ return 'é' $$",
      )
      expect((await fails('SELECT r()'))[0]).toBe('0A000')
      await l1.query(`CREATE SERVER s FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc',
        code $$def read(): return [{'v': 'é'}]$$); CREATE FOREIGN TABLE ft (v text) SERVER s`)
      expect(await fails('SELECT * FROM ft')).toEqual([
        '0A000',
        'Python foreign tables need a UTF8 database in pyglite',
        "This database's encoding is LATIN1.",
      ])
      expect((await fails("INSERT INTO ft VALUES ('x')"))[0]).toBe('0A000')
      expect((await l1.query("SELECT 'é' AS v")).rows).toEqual([{ v: 'é' }]) // SQL itself works
    } finally {
      await l1.end()
    }
    // SQL_ASCII converts nothing, in PostgreSQL either: PL/Python runs
    const asc = new pg.Client(glite.url('enc_ascii'))
    await asc.connect()
    try {
      await asc.query('CREATE EXTENSION plpython3u')
      expect((await asc.query("DO $$ plpy.notice('ok') $$ LANGUAGE plpython3u")).command).toBe('DO')
    } finally {
      await asc.end()
    }
  }, 120_000)

  it('a start-up packet with client_encoding, beside another client’s open transaction that then commits', async () => {
    const b = new pg.Client(glite.url())
    b.on('error', () => {})
    await b.connect()
    await b.query('CREATE TABLE survivors (enc text)')
    for (const enc of encodings) {
      await b.query('BEGIN')
      await b.query('INSERT INTO survivors VALUES ($1)', [enc])
      // connecting runs beside b's transaction, with client_encoding in the start-up packet (as libpq sends it)
      const { c: a, startup } = await RawClient.login(glite.port, { client_encoding: enc })
      expect(parameters(startup).get('client_encoding')).toBe(enc)
      const chars = Buffer.concat(await characters(enc, 6))
      const lit = Buffer.concat([Buffer.from("'"), chars, Buffer.from("'")])
      a.write(
        message(
          'Q',
          Buffer.concat([
            Buffer.from('SELECT length('),
            lit,
            Buffer.from('), encode(convert_to('),
            lit,
            Buffer.from(", 'UTF8'), 'hex');SELECT U&'\\+01F600' AS e\0"),
          ]),
        ),
      )
      await b.query('INSERT INTO survivors VALUES ($1)', [`${enc} again`]) // a's query waits for b's turn
      await b.query('COMMIT')
      const got = await a.until('Z')
      // the reference connection is UTF8: it converts the same bytes from that encoding
      const want = await refc.query(
        "SELECT length(convert_from($1, $2))::text AS n, encode(convert_to(convert_from($1, $2), 'UTF8'), 'hex') AS u",
        [chars, enc],
      )
      expect(rows(got)[0]).toEqual([want.rows[0].n, want.rows[0].u])
      const err = got.find((m) => m.type === 'E')
      if (enc === 'UTF8' || enc === 'GB18030' || enc === 'SQL_ASCII') expect(err).toBeUndefined()
      else
        expect(fields(err!.body)).toMatchObject({
          S: 'ERROR',
          C: '22P05',
          M: `character with byte sequence 0xf0 0x9f 0x98 0x80 in encoding "UTF8" has no equivalent in encoding "${enc}"`,
        })
      a.end()
    }
    const r = await b.query('SELECT count(*)::int AS n FROM survivors')
    expect(r.rows[0].n).toBe(encodings.length * 2)
    await b.end()
  }, 300_000)

  it('node-postgres: SET client_encoding, then text parameters in that encoding and the 22P05 error', async () => {
    const a = new pg.Client(glite.url())
    a.on('error', () => {})
    await a.connect()
    for (const enc of encodings) {
      await a.query(`SET client_encoding TO '${enc}'`)
      const chars = Buffer.concat(await characters(enc, 6))
      // a Buffer parameter goes as binary text: textrecv converts it from the client encoding
      const got = await a.query(
        "SELECT length($1::text)::text AS n, encode(convert_to($1::text, 'UTF8'), 'hex') AS u",
        [chars],
      )
      const want = await refc.query(
        "SELECT length(convert_from($1, $2))::text AS n, encode(convert_to(convert_from($1, $2), 'UTF8'), 'hex') AS u",
        [chars, enc],
      )
      expect(got.rows[0]).toEqual(want.rows[0])
      const err = await a.query("SELECT U&'\\00E9\\+01F600'").then(
        () => null,
        (e: { code?: string; message?: string }) => ({ code: e.code, message: e.message }),
      )
      if (enc === 'UTF8' || enc === 'GB18030' || enc === 'SQL_ASCII') expect(err).toBeNull()
      else expect(err?.code).toBe('22P05')
    }
    await a.query('RESET client_encoding')
    expect((await a.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await a.end()
  }, 120_000)

  it('psycopg2 set_client_encoding: round trip, COPY in/out and errors as on PostgreSQL 15', () => {
    const list = encodings.filter((e) => e !== 'SQL_ASCII')
    const run = (url: string) => {
      const r = spawnSync('/usr/bin/python3', [path.join(HERE, 'psycopg2_encodings.py'), url, ...list], {
        encoding: 'utf8',
      })
      expect(r.stderr).toBe('')
      return JSON.parse(r.stdout) as Record<string, Record<string, unknown>>
    }
    const ours = run(glite.url())
    const theirs = run(ref.url)
    expect(ours).toEqual(theirs)
    expect(ours.KOI8R?.copy_round_trip).toBe(true)
    expect(ours.LATIN1?.emoji_error).toEqual([
      '22P05',
      'ERROR:  character with byte sequence 0xf0 0x9f 0x98 0x80 in encoding "UTF8" has no equivalent in encoding "LATIN1"\n',
    ])
  }, 120_000)
})
