-- Checked against PostgreSQL 15 + plpython3u (Debian); expected output recorded there.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS edge3 CASCADE;
CREATE SCHEMA edge3;
SET search_path = edge3, public;
SET client_min_messages = notice;
CREATE FUNCTION g(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
for i in range(n):
    yield n * 10 + i
$$;
SELECT g(2), g(3);
SELECT * FROM g(2) a, g(2) b ORDER BY 1, 2;
SELECT x, (SELECT count(*) FROM g(x)) FROM generate_series(1,3) x;
DO $$
DECLARE r int;
BEGIN
  FOR r IN SELECT * FROM g(3) LOOP
    RAISE NOTICE 'r=%', r;
  END LOOP;
END $$;
CREATE FUNCTION g_nested(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
for i in range(n):
    r = plpy.execute("SELECT count(*) AS c FROM g(%d)" % (i + 1))
    yield r[0]['c']
$$;
SELECT g_nested(3);
CREATE FUNCTION g_args(a int) RETURNS SETOF text LANGUAGE plpython3u AS $$
global a
for i in range(2):
    a = a + 1
    yield '%d %s' % (a, args)
$$;
SELECT g_args(1), g_args(10);
CREATE FUNCTION rec_out(INOUT x int, OUT y text) LANGUAGE plpython3u AS $$ return (x * 2, 'y%d' % x) $$;
SELECT * FROM rec_out(3);
SELECT (rec_out(4)).y;
CREATE FUNCTION rec_setof(n int, OUT i int, OUT sq int) RETURNS SETOF record LANGUAGE plpython3u AS $$
return ((i, i*i) for i in range(n))
$$;
SELECT * FROM rec_setof(3);
SELECT rec_setof(2);
CREATE FUNCTION rec_dyn() RETURNS SETOF record LANGUAGE plpython3u AS $$
yield {'a': 1, 'b': 'x', 'c': 3.5}
yield {'a': 2, 'b': None, 'c': None}
$$;
SELECT * FROM rec_dyn() AS t(a int, b text);
SELECT * FROM rec_dyn() AS t(c float8, a bigint);
SELECT * FROM rec_dyn() AS t(z int);
CREATE PROCEDURE p_inout(INOUT a int, INOUT b text DEFAULT 'dflt') LANGUAGE plpython3u AS $$
return (a + 1, b.upper())
$$;
CALL p_inout(1);
CALL p_inout(5, 'q');
DO $$
DECLARE a int := 7; b text := 'z';
BEGIN
  CALL p_inout(a, b);
  RAISE NOTICE 'a=% b=%', a, b;
END $$;
CREATE PROCEDURE p_wrong(INOUT a int) LANGUAGE plpython3u AS $$ return 5 $$;
CALL p_wrong(1);
CREATE PROCEDURE p_void() LANGUAGE plpython3u AS $$ plpy.notice('void proc') $$;
CALL p_void();
CREATE FUNCTION in_sql(x int) RETURNS int LANGUAGE sql AS $$ SELECT rec_out.x FROM rec_out(x) $$;
SELECT in_sql(21);
CREATE FUNCTION srf_limit_gen() RETURNS SETOF int LANGUAGE plpython3u AS $$
i = 0
while True:
    plpy.notice('gen %d' % i)
    yield i
    i += 1
$$;
SELECT srf_limit_gen() LIMIT 2;
SELECT * FROM (SELECT srf_limit_gen() AS v) s WHERE v < 2 LIMIT 2;
CREATE FUNCTION void_srf() RETURNS SETOF void LANGUAGE plpython3u AS $$ return [None, None] $$;
SELECT void_srf();
CREATE FUNCTION recursive_srf(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
if n > 0:
    for r in plpy.execute('SELECT recursive_srf(%d) AS v' % (n - 1)):
        yield r['v']
yield n
$$;
SELECT recursive_srf(3);
