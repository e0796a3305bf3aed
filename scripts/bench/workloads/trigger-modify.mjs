// A modifying BEFORE ROW trigger (../shared/DESIGN.md §6): 100,000-row INSERT … SELECT into a table whose
// PL/Python trigger sets one column (TD['new']['n'] = TD['new']['id'] * 2; return 'MODIFY'), against the
// same INSERT into a table without a trigger, on both servers. The figure that counts is the trigger's
// overhead (with trigger minus without) of pyglite over PostgreSQL 15 + plpython3u's (about 4 µs per row).
const insert = (table) => `INSERT INTO ${table} SELECT i, 'row ' || i, 0 FROM generate_series(1, 100000) i`

export default {
  name: 'trigger-modify',
  description:
    "100k-row INSERT … SELECT, BEFORE ROW trigger TD['new']['n'] = TD['new']['id'] * 2; return 'MODIFY'",
  rows: 100_000,
  maxOverheadRatio: 2.0,
  target: 1.0,
  setup: [
    'SET client_min_messages = warning',
    'DROP TABLE IF EXISTS bench_trig_t, bench_plain_t',
    'CREATE TABLE bench_trig_t (id int, v text, n int)',
    'CREATE TABLE bench_plain_t (id int, v text, n int)',
    `CREATE OR REPLACE FUNCTION bench_trig() RETURNS trigger LANGUAGE plpython3u AS $$
TD['new']['n'] = TD['new']['id'] * 2
return 'MODIFY'
$$`,
    'CREATE TRIGGER bench_trig_bi BEFORE INSERT ON bench_trig_t FOR EACH ROW EXECUTE FUNCTION bench_trig()',
  ],
  before: ['TRUNCATE bench_trig_t'],
  query: insert('bench_trig_t'),
  baseline: { before: ['TRUNCATE bench_plain_t'], query: insert('bench_plain_t') },
  verify: {
    sql: "SELECT count(*)::int AS n, bool_and(n = 2 * id AND v = 'row ' || id) AS ok FROM bench_trig_t",
    check: (rows) => rows[0]?.n === 100000 && rows[0]?.ok === true,
  },
}
