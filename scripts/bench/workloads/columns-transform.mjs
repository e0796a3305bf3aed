// Issue 14 workload b: a 1M-row transform computing a 20-operation float expression per row. pyglite: a
// columnar table function (plcolumns.transform, numpy over batches of 65,536 rows); PostgreSQL 15 +
// plpython3u: the per-row function PL/Python users write. Both sum the same values.
import { connect, fmt, median, time } from '../columns/measure.mjs'

const ROWS = 1_000_000
const SETUP = [
  'DROP TABLE IF EXISTS expr_t',
  `CREATE TABLE expr_t AS SELECT ((g % 1000) / 100.0 - 5.0)::float8 AS x FROM generate_series(1, ${ROWS}) g`,
  'VACUUM ANALYZE expr_t',
]
// 20 operations: * + - * * + / * - * + abs sqrt * - / * + * -
const COLUMNS = `CREATE OR REPLACE FUNCTION expr_columns(q text) RETURNS TABLE(y float8) LANGUAGE plpython3u AS $$
import numpy as np, plcolumns
def f(c):
    x = c["x"]
    z = ((x * 1.5 + 2.0) * (x - 0.5)) / (x * x + 3.0)
    w = np.sqrt(np.abs((z * z - x) * 0.25 + 1.0)) * x - z
    v = w / 3.0 + x * 0.1
    return {"y": v * v - 2.0}
return plcolumns.transform(q, f, batch=65536, kind="numpy")
$$`
const ROWWISE = `CREATE OR REPLACE FUNCTION expr_row(x float8) RETURNS float8 LANGUAGE plpython3u AS $$
import math
z = ((x * 1.5 + 2.0) * (x - 0.5)) / (x * x + 3.0)
w = math.sqrt(abs((z * z - x) * 0.25 + 1.0)) * x - z
v = w / 3.0 + x * 0.1
return v * v - 2.0
$$`

// A table function's rows are materialized by the FunctionScan that reads them, in a tuplestore bounded by
// work_mem: at PostgreSQL's default of 4 MB a 1M-row result spills to a temporary file, written and read
// back by PostgreSQL's executor in wasm. The per-row form runs in the select list and has no tuplestore.
// Both servers are measured at the default and at WORK_MEM (the same setting on both); the target line is
// the latter — what a user running a million-row transform sets (docs/columns.md, "Memory").
const WORK_MEM = '64MB'

async function rounds(g, r, runs) {
  const t = { columns: [], rows: [] }
  const v = {}
  for (let i = 0; i <= runs; i++) {
    const a = await time(g, "SELECT sum(y) AS s FROM expr_columns('SELECT x FROM expr_t')")
    const b = await time(r, 'SELECT sum(expr_row(x)) AS s FROM expr_t')
    v.columns = a.rows[0].s
    v.rows = b.rows[0].s
    if (i === 0) continue
    t.columns.push(a.ms)
    t.rows.push(b.ms)
  }
  const same = Math.abs(v.columns - v.rows) <= 1e-9 * Math.abs(v.rows)
  return { mc: median(t.columns), mr: median(t.rows), v, same }
}

export default {
  name: 'columns-transform',
  description: `issue 14 b: a 20-operation float expression over ${ROWS / 1e6}M rows, columnar table function vs per-row plpython3u`,
  async run(urls, runs) {
    const g = await connect(urls.pyglite)
    const r = await connect(urls.postgresql)
    try {
      for (const s of SETUP) await Promise.all([g.query(s), r.query(s)])
      await g.query(COLUMNS)
      await r.query(ROWWISE)
      const d = await rounds(g, r, runs)
      await Promise.all([g.query(`SET work_mem = '${WORK_MEM}'`), r.query(`SET work_mem = '${WORK_MEM}'`)])
      const m = await rounds(g, r, runs)
      return {
        lines: [
          `work_mem 4MB (default, result spilled):`,
          `  pyglite plcolumns.transform (numpy)    ${fmt(d.mc)}   sum ${d.v.columns}`,
          `  postgresql 15 per-row plpython3u       ${fmt(d.mr)}   sum ${d.v.rows}`,
          `  postgresql per-row / pyglite columnar  ${(d.mr / d.mc).toFixed(2)}x`,
          `work_mem ${WORK_MEM} on both (result in memory):`,
          `  pyglite plcolumns.transform (numpy)    ${fmt(m.mc)}   sum ${m.v.columns}`,
          `  postgresql 15 per-row plpython3u       ${fmt(m.mr)}   sum ${m.v.rows}`,
          `  postgresql per-row / pyglite columnar  ${(m.mr / m.mc).toFixed(2)}x   target >= 5: ${m.mr / m.mc >= 5 ? 'met' : 'missed'}`,
          `same sum: ${d.same && m.same}`,
        ],
        ok: d.same && m.same,
      }
    } finally {
      await Promise.allSettled([g.end(), r.end()])
    }
  },
}
