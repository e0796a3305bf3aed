// The per-call cost with a text argument and a text result (issue 8): `return s.upper()` over 100,000 md5
// texts (32 ASCII characters each) in a table, summed as lengths so the result set stays one row.
// PostgreSQL 15 + plpython3u: about 1 µs per call. Target ratio ≤ 0.9.
export default {
  name: 'plpython-upper',
  description: 'SELECT sum(length(f(s))) over 100k md5 texts, f = return s.upper()',
  rows: 100_000,
  maxRatio: 2.0,
  target: 0.9,
  setup: [
    'SET client_min_messages = warning',
    'DROP TABLE IF EXISTS bench_md5',
    'CREATE TABLE bench_md5 AS SELECT md5(i::text) AS s FROM generate_series(1, 100000) i',
    'VACUUM ANALYZE bench_md5',
    'CREATE OR REPLACE FUNCTION bench_upper(s text) RETURNS text LANGUAGE plpython3u AS $$ return s.upper() $$',
  ],
  query: 'SELECT sum(length(bench_upper(s)))::int AS n FROM bench_md5',
  check: (rows) => rows[0]?.n === 3_200_000,
  verify: {
    sql: 'SELECT count(*)::int AS bad FROM bench_md5 WHERE bench_upper(s) IS DISTINCT FROM upper(s)',
    check: (rows) => rows[0]?.bad === 0,
  },
}
