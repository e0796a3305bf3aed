// numpy_plpython3u (docs/columns.md "Array arguments as numpy arrays"): the mean of a 1M-element float8[]
// argument read from a table. pyglite: a function with TRANSFORM FOR TYPE float8[] gets a numpy array built
// from the packed bytes in one copy; PostgreSQL 15 + plpython3u (with the extension's C twin, which keeps
// PL/Python's list there): the same function, its list turned into a numpy array; and pyglite without the
// transform (the list, as PL/Python gives it) for scale. Informational: no target in issue 14.
import { connect, fmt, median, time } from '../columns/measure.mjs'

const N = 1_000_000
const SETUP = [
  'DROP TABLE IF EXISTS arr_t',
  `CREATE TABLE arr_t AS SELECT array_agg(sin(g)) AS a FROM generate_series(1, ${N}) g`,
  'CREATE EXTENSION IF NOT EXISTS numpy_plpython3u',
]
// the same body on both servers: numpy.asarray is the array itself in pyglite, a conversion of the list there
const WITH = `CREATE OR REPLACE FUNCTION arr_mean(a float8[]) RETURNS float8
TRANSFORM FOR TYPE float8[] LANGUAGE plpython3u AS $$
import numpy
return float(numpy.asarray(a).mean())
$$`
const WITHOUT = `CREATE OR REPLACE FUNCTION arr_mean_list(a float8[]) RETURNS float8 LANGUAGE plpython3u AS $$
import numpy
return float(numpy.asarray(a).mean())
$$`

export default {
  name: 'columns-array-arg',
  description: `numpy_plpython3u: numpy.asarray(a).mean() of a ${N / 1e6}M-element float8[] argument`,
  async run(urls, runs) {
    const g = await connect(urls.pyglite)
    const r = await connect(urls.postgresql)
    try {
      for (const s of SETUP) await Promise.all([g.query(s), r.query(s)])
      await Promise.all([g.query(WITH), r.query(WITH), g.query(WITHOUT)])
      const t = { with: [], ref: [], without: [] }
      const v = {}
      for (let i = 0; i <= runs; i++) {
        const a = await time(g, 'SELECT arr_mean(a) AS m FROM arr_t')
        const b = await time(r, 'SELECT arr_mean(a) AS m FROM arr_t')
        const c = await time(g, 'SELECT arr_mean_list(a) AS m FROM arr_t')
        Object.assign(v, { with: a.rows[0].m, ref: b.rows[0].m, without: c.rows[0].m })
        if (i === 0) continue // the first round warms the caches and imports numpy
        t.with.push(a.ms)
        t.ref.push(b.ms)
        t.without.push(c.ms)
      }
      const [mw, mr, ml] = [median(t.with), median(t.ref), median(t.without)]
      const same = Math.abs(v.with - v.ref) <= 1e-9 * Math.max(1, Math.abs(v.ref)) && v.with === v.without
      return {
        lines: [
          `pyglite, TRANSFORM FOR TYPE float8[] (numpy)   ${fmt(mw)}   mean ${v.with}`,
          `postgresql 15, the same function (a list)      ${fmt(mr)}   mean ${v.ref}`,
          `pyglite without the transform (a list)         ${fmt(ml)}`,
          `postgresql / pyglite with the transform        ${(mr / mw).toFixed(2)}x`,
          `same mean: ${same}`,
        ],
        ok: same,
      }
    } finally {
      await Promise.allSettled([g.end(), r.end()])
    }
  },
}
