// Issue 15: INSERT … SELECT of 1M rows (int, text) consumed by Python: on pyglite a foreign table whose
// write(n, s) gets the rows as column lists in batches of 1000 (multicorn.pyfunc.PyFunc, bulk_insert), on
// PostgreSQL 15 a table whose BEFORE ROW plpython3u trigger counts each row and skips it. Target ≤ 1.0.
const CODE = `
seen = [0]
def write(n, s):
    seen[0] += len(n)
`

export default {
  name: 'fdw-sink',
  description: 'INSERT … SELECT of 1M rows into a Python sink (foreign table vs plpython3u row trigger)',
  rows: 1_000_000,
  maxRatio: 3.0,
  target: 1.0,
  setup: [
    'SET client_min_messages = warning',
    `DO $do$ BEGIN
      IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'multicorn') THEN
        CREATE EXTENSION IF NOT EXISTS multicorn;
        DROP SERVER IF EXISTS bench_sink_srv CASCADE;
        CREATE SERVER bench_sink_srv FOREIGN DATA WRAPPER multicorn
          OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $c$${CODE}$c$);
        CREATE FOREIGN TABLE bench_sink (n int, s text) SERVER bench_sink_srv;
      ELSE
        DROP TABLE IF EXISTS bench_sink;
        CREATE TABLE bench_sink (n int, s text);
        CREATE OR REPLACE FUNCTION bench_sink_trig() RETURNS trigger LANGUAGE plpython3u AS $c$
SD['seen'] = SD.get('seen', 0) + 1
return 'SKIP'
$c$;
        CREATE TRIGGER bench_sink_bi BEFORE INSERT ON bench_sink FOR EACH ROW EXECUTE FUNCTION bench_sink_trig();
      END IF;
    END $do$`,
  ],
  query: "INSERT INTO bench_sink SELECT i, 'row ' || i FROM generate_series(1, 1000000) i",
}
