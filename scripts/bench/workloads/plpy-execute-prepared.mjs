// 10,000 × plpy.execute(plan, [1]) of a prepared one-row SELECT inside one call (../shared/DESIGN.md §6):
// the argument converted by PL/Python's rules, SPI_execute_plan in a subtransaction, the row as a dict.
// PostgreSQL 15 + plpython3u: about 30 ms.
export default {
  name: 'plpy-execute-prepared',
  description: '10,000 x plpy.execute(plan, [1])[0]["x"], plan = prepare("SELECT $1::int AS x", ["int"])',
  rows: 10_000,
  maxRatio: 2.0,
  target: 1.0,
  setup: [
    `CREATE OR REPLACE FUNCTION bench_spi_loop_prepared(n int) RETURNS int LANGUAGE plpython3u AS $$
p = plpy.prepare("SELECT $1::int AS x", ["int"])
t = 0
for i in range(n):
    t += plpy.execute(p, [1])[0]['x']
return t
$$`,
  ],
  query: 'SELECT bench_spi_loop_prepared(10000) AS t',
  check: (rows) => rows[0]?.t === 10000,
}
