// 10,000 × plan.execute([1]) inside one call: the method form the PostgreSQL docs show for prepared plans
// (PLy_plan_execute), which must cost what plpy.execute(plan, [1]) costs (plpy-execute-prepared).
export default {
  name: 'plpy-execute-plan-method',
  description: '10,000 x plan.execute([1])[0]["x"], plan = prepare("SELECT $1::int AS x", ["int"])',
  rows: 10_000,
  maxRatio: 2.0,
  target: 1.0,
  setup: [
    `CREATE OR REPLACE FUNCTION bench_spi_loop_method(n int) RETURNS int LANGUAGE plpython3u AS $$
p = plpy.prepare("SELECT $1::int AS x", ["int"])
t = 0
for i in range(n):
    t += p.execute([1])[0]['x']
return t
$$`,
  ],
  query: 'SELECT bench_spi_loop_method(10000) AS t',
  check: (rows) => rows[0]?.t === 10000,
}
