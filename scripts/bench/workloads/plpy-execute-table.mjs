// 10,000 × plan.execute(plan, [id]) of `SELECT v FROM t WHERE id = $1` on a small indexed table
// (informational, no target): a statement that is not a simple expression goes through the executor
// (SPI_execute_plan: an index scan per execution), so a reader sees what non-simple statements cost
// next to plpy-execute-prepared, whose `SELECT $1::int` is evaluated without the executor.
export default {
  name: 'plpy-execute-table',
  description:
    '10,000 x plpy.execute(plan, [i % 100 + 1])[0]["v"], plan = prepare("SELECT v FROM bench_small WHERE id = $1", ["int"])',
  rows: 10_000,
  maxRatio: 8.0,
  setup: [
    'DROP TABLE IF EXISTS bench_small',
    'CREATE TABLE bench_small (id int PRIMARY KEY, v int)',
    'INSERT INTO bench_small SELECT i, i FROM generate_series(1, 100) i',
    'ANALYZE bench_small',
    `CREATE OR REPLACE FUNCTION bench_spi_loop_table(n int) RETURNS int LANGUAGE plpython3u AS $$
p = plpy.prepare("SELECT v FROM bench_small WHERE id = $1", ["int"])
t = 0
for i in range(n):
    t += plpy.execute(p, [i % 100 + 1])[0]['v']
return t
$$`,
  ],
  query: 'SELECT bench_spi_loop_table(10000) AS t',
  check: (rows) => rows[0]?.t === 505000,
}
