// Issue 14 workload a: the correlation of two float8 columns over 1M rows, computed with numpy.corrcoef.
// pyglite reads the columns with plcolumns (numpy arrays built in the engine); PostgreSQL 15 +
// plpython3u the PL/Python way (plpy.execute, list comprehensions, the same numpy call); a client
// fetches the same columns from PostgreSQL 15 with psycopg2 and computes with numpy; and pyglite's own
// SELECT sum(a), sum(b) over the rows is the floor (the engine's scan). Ratios from the same run.
import { connect, fmt, median, python, time } from '../columns/measure.mjs'

const ROWS = 1_000_000
const SETUP = [
  'DROP TABLE IF EXISTS corr_t',
  `CREATE TABLE corr_t AS SELECT sin(g) AS a, sin(g) * 0.5 + cos(g * 7) AS b FROM generate_series(1, ${ROWS}) g`,
  'VACUUM ANALYZE corr_t',
]
const COLUMNS = `CREATE OR REPLACE FUNCTION corr_columns() RETURNS float8 LANGUAGE plpython3u AS $$
import numpy, plcolumns
c = plcolumns.execute("SELECT a, b FROM corr_t", kind="numpy")
return float(numpy.corrcoef(c["a"], c["b"])[0, 1])
$$`
const ROWWISE = `CREATE OR REPLACE FUNCTION corr_rows() RETURNS float8 LANGUAGE plpython3u AS $$
import numpy
r = plpy.execute("SELECT a, b FROM corr_t")
a = [x["a"] for x in r]
b = [x["b"] for x in r]
return float(numpy.corrcoef(a, b)[0, 1])
$$`
const CLIENT = `
import sys, time, statistics, psycopg2, numpy
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
times, value = [], None
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    cur.execute("SELECT a, b FROM corr_t")
    m = numpy.array(cur.fetchall(), dtype=numpy.float64)
    value = float(numpy.corrcoef(m[:, 0], m[:, 1])[0, 1])
    times.append((time.perf_counter() - t0) * 1000)
print(statistics.median(times), value)
`

export default {
  name: 'columns-corr',
  description: `issue 14 a: numpy.corrcoef of two float8 columns over ${ROWS / 1e6}M rows`,
  async run(urls, runs) {
    const g = await connect(urls.pyglite)
    const r = await connect(urls.postgresql)
    try {
      for (const s of SETUP) await Promise.all([g.query(s), r.query(s)])
      await g.query(COLUMNS)
      await r.query(ROWWISE)
      const t = { columns: [], rows: [], floor: [] }
      const values = {}
      for (let i = 0; i <= runs; i++) {
        const a = await time(g, 'SELECT corr_columns() AS v')
        const b = await time(r, 'SELECT corr_rows() AS v')
        const f = await time(g, 'SELECT sum(a) AS a, sum(b) AS b FROM corr_t')
        values.columns = a.rows[0].v
        values.rows = b.rows[0].v
        if (i === 0) continue // warm-up
        t.columns.push(a.ms)
        t.rows.push(b.ms)
        t.floor.push(f.ms)
      }
      const [clientMs, clientValue] = (await python(CLIENT, [urls.postgresql, String(runs)]))
        .split(' ')
        .map(Number)
      const mc = median(t.columns)
      const mr = median(t.rows)
      const mf = median(t.floor)
      const same =
        Math.abs(values.columns - values.rows) < 1e-12 && Math.abs(values.columns - clientValue) < 1e-12
      const lines = [
        `pyglite plcolumns.execute + numpy       ${fmt(mc)}   corr ${values.columns}`,
        `postgresql 15 plpy.execute + lists      ${fmt(mr)}   corr ${values.rows}`,
        `psycopg2 client of postgresql 15        ${fmt(clientMs)}   corr ${clientValue}`,
        `pyglite SELECT sum(a), sum(b) (floor)   ${fmt(mf)}`,
        `postgresql PL/Python way / pyglite columns  ${(mr / mc).toFixed(2)}x   target >= 3: ${mr / mc >= 3 ? 'met' : 'missed'}`,
        `psycopg2 client / pyglite columns           ${(clientMs / mc).toFixed(2)}x   target >= 2: ${clientMs / mc >= 2 ? 'met' : 'missed'}`,
        `pyglite columns / pyglite sum floor         ${(mc / mf).toFixed(2)}x   target <= 2: ${mc / mf <= 2 ? 'met' : 'missed'}`,
        `same correlation on all three: ${same}`,
      ]
      return { lines, ok: same }
    } finally {
      await Promise.allSettled([g.end(), r.end()])
    }
  },
}
