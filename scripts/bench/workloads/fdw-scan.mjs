// Issue 15: 1M rows (int, text) from a Python generator, read as a foreign table on pyglite (multicorn,
// the short form multicorn.pyfunc.PyFunc) and as a plpython3u set-returning function (behind a view of
// the same name) on PostgreSQL 15, which has no multicorn. The same SQL is timed on both. Target ≤ 1.0.
const CODE = `
def read():
    for i in range(1000000):
        yield (i, 'row %d' % i)
`

export default {
  name: 'fdw-scan',
  description: 'SELECT count/sum over 1M rows a Python generator yields (foreign table vs plpython3u SRF)',
  rows: 1_000_000,
  maxRatio: 3.0,
  target: 1.0,
  setup: [
    'SET client_min_messages = warning',
    `DO $do$ BEGIN
      IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'multicorn') THEN
        CREATE EXTENSION IF NOT EXISTS multicorn;
        DROP SERVER IF EXISTS bench_gen_srv CASCADE;
        CREATE SERVER bench_gen_srv FOREIGN DATA WRAPPER multicorn
          OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $c$${CODE}$c$);
        CREATE FOREIGN TABLE bench_src (n int, s text) SERVER bench_gen_srv;
      ELSE
        DROP VIEW IF EXISTS bench_src; DROP FUNCTION IF EXISTS bench_gen();
        CREATE FUNCTION bench_gen() RETURNS TABLE (n int, s text) LANGUAGE plpython3u AS $c$
for i in range(1000000):
    yield (i, 'row %d' % i)
$c$;
        CREATE VIEW bench_src AS SELECT * FROM bench_gen();
      END IF;
    END $do$`,
  ],
  query: 'SELECT count(*)::int AS c, sum(n)::bigint AS s, sum(length(s))::bigint AS l FROM bench_src',
  check: (rows) => rows[0]?.c === 1_000_000 && rows[0]?.s === '499999500000' && rows[0]?.l === '9888890',
}
