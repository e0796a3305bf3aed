// Every conversion in pg_conversion, over its source encoding's repertoire (test/encodings/repertoire.ts),
// gives the same bytes — or the same error — on pyglite as on a real PostgreSQL 15 started for this file.
// By default every 8th input of each repertoire (~580k conversions, 20-60 s); PYGLITE_ENCODINGS_FULL=1 converts all
// (4.5 million conversions, about 150 s on 2 cores; docs/encodings.md has the result).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { repertoire, withCombined } from './repertoire.js'

let glite: TestServer
let ref: Reference
let ours: pg.Client
let theirs: pg.Client

const TRY = `CREATE FUNCTION pg_temp.try_conv(src text, f name, t name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN encode(convert(decode(src, 'hex'), f, t), 'hex');
EXCEPTION WHEN others THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$`

beforeAll(async () => {
  ;[glite, ref] = await Promise.all([startServer(), startReference()])
  ours = new pg.Client(glite.url())
  theirs = new pg.Client(ref.url)
  await Promise.all([ours.connect(), theirs.connect()])
  await Promise.all([ours.query(TRY), theirs.query(TRY)])
}, 120_000)
afterAll(async () => {
  await Promise.all([ours?.end(), theirs?.end()])
  ref?.stop()
  await glite?.stop()
})

const FULL = process.env.PYGLITE_ENCODINGS_FULL === '1'
/** Every 8th input, and every short one (the malformed sequences are at the start). */
const sample = (xs: string[]): string[] => (FULL ? xs : xs.filter((_, i) => i < 64 || i % 8 === 0))

/** Results (hex or "SQLSTATE message") of converting each input, in order, on one server. */
async function convertAll(c: pg.Client, inputs: string[], from: string, to: string): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < inputs.length; i += 5000) {
    const r = await c.query<{ r: string[] }>(
      'SELECT array_agg(pg_temp.try_conv(x, $2, $3) ORDER BY n) AS r FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n)',
      [inputs.slice(i, i + 5000), from, to],
    )
    out.push(...r.rows[0]!.r)
  }
  return out
}

const conversions = async (c: pg.Client) =>
  (
    await c.query<{ f: string; t: string }>(
      'SELECT pg_encoding_to_char(conforencoding) AS f, pg_encoding_to_char(contoencoding) AS t FROM pg_conversion ORDER BY 1, 2',
    )
  ).rows

describe('encoding conversions match PostgreSQL 15', () => {
  it('pg_conversion lists the same conversions', async () => {
    const [a, b] = await Promise.all([conversions(ours), conversions(theirs)])
    expect(a).toEqual(b)
    expect(a.length).toBe(128)
  })

  it('each conversion gives the same bytes and errors for its whole source repertoire', async () => {
    const all = await conversions(theirs)
    // X → UTF8 first: its results are the characters (and combined pairs) UTF8 → X must be tried with
    const images = new Map<string, string[]>()
    const diffs: string[] = []
    let compared = 0
    const order = [...all.filter((c) => c.f !== 'UTF8'), ...all.filter((c) => c.f === 'UTF8')]
    for (const { f, t } of order) {
      let inputs = sample(repertoire(f))
      if (f === 'UTF8') inputs = withCombined(inputs, sample(images.get(t) ?? []))
      const [a, b] = await Promise.all([convertAll(ours, inputs, f, t), convertAll(theirs, inputs, f, t)])
      if (t === 'UTF8')
        images.set(
          f,
          b.filter((r) => /^[0-9a-f]+$/.test(r)),
        )
      compared += inputs.length
      inputs.forEach((x, i) => {
        if (a[i] !== b[i]) diffs.push(`${f}→${t} ${x}: pyglite ${a[i]} | PostgreSQL 15 ${b[i]}`)
      })
    }
    console.log(`compared ${compared} conversions of ${all.length} kinds; ${diffs.length} differ`)
    expect(diffs.slice(0, 50)).toEqual([])
  }, 900_000)
})
