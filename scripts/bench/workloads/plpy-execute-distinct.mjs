// 10,000 × plpy.execute of one-row SELECTs whose texts all differ (a value formatted into the query):
// every one is parsed, analysed and planned, in wasm here and natively in PostgreSQL. Informational (no
// limit): it shows the cost of the parser and planner that the plan cache saves on repeated texts.
export default {
  name: 'plpy-execute-distinct',
  description: '10,000 x plpy.execute("SELECT <n> AS x")[0]["x"], every text different',
  rows: 10_000,
  setup: [
    `CREATE OR REPLACE FUNCTION bench_spi_distinct(n int) RETURNS bigint LANGUAGE plpython3u AS $$
import random
base = random.randrange(1 << 40)
t = 0
for i in range(n):
    t += plpy.execute("SELECT %d AS x" % (base + i))[0]['x'] - base
return t
$$`,
  ],
  query: 'SELECT bench_spi_distinct(10000) AS t',
  check: (rows) => rows[0]?.t === '49995000',
}
