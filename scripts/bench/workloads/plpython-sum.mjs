// The per-call cost of a trivial PL/Python function (../shared/DESIGN.md §6): 1M calls of `return i+1`
// summed in SQL. PostgreSQL 15 + plpython3u does it in about 1 µs per call.
export default {
  name: 'plpython-sum',
  description: 'SELECT sum(f(i)) FROM generate_series(1,1000000) i, f = return i+1',
  rows: 1_000_000,
  maxRatio: 2.0,
  target: 0.7,
  setup: [
    'CREATE OR REPLACE FUNCTION bench_inc(i int) RETURNS int LANGUAGE plpython3u AS $$ return i + 1 $$',
  ],
  query: 'SELECT sum(bench_inc(i)) AS s FROM generate_series(1, 1000000) i',
  check: (rows) => rows[0]?.s === '500001500000',
}
