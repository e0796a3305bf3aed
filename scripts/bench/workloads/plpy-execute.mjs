// 10,000 × plpy.execute of a one-row SELECT inside one call (../shared/DESIGN.md §6): SPI through plpy,
// an internal subtransaction per call, the row converted to a dict. PostgreSQL 15 + plpython3u: 70–100 ms.
export default {
  name: 'plpy-execute',
  description: '10,000 x plpy.execute("SELECT 1 AS x")[0]["x"] in one call',
  rows: 10_000,
  maxRatio: 2.0,
  target: 1.0,
  setup: [
    `CREATE OR REPLACE FUNCTION bench_spi_loop(n int) RETURNS int LANGUAGE plpython3u AS $$
t = 0
for i in range(n):
    t += plpy.execute("SELECT 1 AS x")[0]['x']
return t
$$`,
  ],
  query: 'SELECT bench_spi_loop(10000) AS t',
  check: (rows) => rows[0]?.t === 10000,
}
