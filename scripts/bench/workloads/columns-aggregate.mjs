// Issue 14 workload c: a Python mean/stddev aggregate over 1M rows in 1,000 groups. pyglite: a batch
// aggregate made by plcolumns.create_aggregate (numpy over batches of 8,192 values of a group);
// PostgreSQL 15 + plpython3u: CREATE AGGREGATE with a plpython3u state function over a float8[] state,
// as PL/Python users write it. Both must equal avg/stddev_samp on the same data.
import { connect, fmt, median, time } from '../columns/measure.mjs'

const ROWS = 1_000_000
const SETUP = [
  'DROP TABLE IF EXISTS agg_t',
  `CREATE TABLE agg_t AS SELECT g % 1000 AS grp, CASE WHEN g % 97 = 0 THEN NULL ELSE sin(g) * 100 END AS v FROM generate_series(1, ${ROWS}) g`,
  'VACUUM ANALYZE agg_t',
]
const BATCH = `DO $$
import plcolumns
plcolumns.create_aggregate("py_meansd", ["float8"], "float8[]", '''
import math
class MeanSd:
    def __init__(self):
        self.n, self.s, self.ss = 0, 0.0, 0.0
    def process(self, v):
        self.n += len(v)
        self.s += float(v.sum())
        self.ss += float(v @ v)
    def merge(self, o):
        self.n += o.n; self.s += o.s; self.ss += o.ss
    def finalize(self):
        if self.n == 0:
            return None
        m = self.s / self.n
        return [m, math.sqrt((self.ss - self.n * m * m) / (self.n - 1)) if self.n > 1 else None]
''', "MeanSd", batch=8192, kind="numpy")
$$ LANGUAGE plpython3u`
const ROWWISE = [
  `CREATE OR REPLACE FUNCTION meansd_step(state float8[], v float8) RETURNS float8[] LANGUAGE plpython3u AS $$
if v is None:
    return state
if state is None:
    return [1.0, v, v * v]
return [state[0] + 1.0, state[1] + v, state[2] + v * v]
$$`,
  `CREATE OR REPLACE FUNCTION meansd_final(state float8[]) RETURNS float8[] LANGUAGE plpython3u AS $$
import math
if state is None:
    return None
n, s, ss = state
m = s / n
return [m, math.sqrt((ss - n * m * m) / (n - 1)) if n > 1 else None]
$$`,
  'CREATE AGGREGATE py_meansd(float8) (SFUNC = meansd_step, STYPE = float8[], FINALFUNC = meansd_final)',
]
const QUERY = 'SELECT grp, py_meansd(v) AS x FROM agg_t GROUP BY grp'
// largest difference from avg/stddev_samp over the groups (relative to the values, which are up to 100)
const CHECK = `SELECT max(abs(x[1] - a)) AS dm, max(abs(x[2] - s)) AS ds, count(*) AS n FROM
  (SELECT grp, py_meansd(v) AS x, avg(v) AS a, stddev_samp(v) AS s FROM agg_t GROUP BY grp) q`

export default {
  name: 'columns-aggregate',
  description: `issue 14 c: a Python mean/stddev aggregate over ${ROWS / 1e6}M rows in 1,000 groups`,
  async run(urls, runs) {
    const g = await connect(urls.pyglite)
    const r = await connect(urls.postgresql)
    try {
      for (const s of SETUP) await Promise.all([g.query(s), r.query(s)])
      await g.query(BATCH)
      for (const s of ROWWISE) await r.query(s)
      const t = { batch: [], rows: [] }
      for (let i = 0; i <= runs; i++) {
        const a = await time(g, QUERY)
        const b = await time(r, QUERY)
        if (i === 0) continue
        t.batch.push(a.ms)
        t.rows.push(b.ms)
      }
      const cg = (await g.query(CHECK)).rows[0]
      const cr = (await r.query(CHECK)).rows[0]
      const mb = median(t.batch)
      const mr = median(t.rows)
      const ok = cg.dm < 1e-9 && cg.ds < 1e-9 && cg.n === '1000' && cr.dm < 1e-9
      return {
        lines: [
          `pyglite batch aggregate (plcolumns)        ${fmt(mb)}   vs avg/stddev_samp: max diff ${cg.dm} / ${cg.ds}`,
          `postgresql 15 plpython3u state function    ${fmt(mr)}   vs avg/stddev_samp: max diff ${cr.dm} / ${cr.ds}`,
          `postgresql / pyglite                       ${(mr / mb).toFixed(2)}x   target >= 3: ${mr / mb >= 3 ? 'met' : 'missed'}`,
          `equal to avg/stddev_samp: ${ok}`,
        ],
        ok,
      }
    } finally {
      await Promise.allSettled([g.end(), r.end()])
    }
  },
}
