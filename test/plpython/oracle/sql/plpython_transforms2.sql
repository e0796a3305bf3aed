-- TRANSFORM FOR TYPE reaches the fields of composites going into Python (plpy_typeio.c
-- PLy_input_setup_func passes the procedure to PLy_input_setup_tuple): composite and array-of-composite
-- arguments, an anonymous record in a query result, a procedure's INOUT composite, composite columns of
-- query results and of a trigger's row; without the transform the fields stay text. Expected output
-- recorded on PostgreSQL 15 + plpython3u with Debian's transform extensions.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE EXTENSION IF NOT EXISTS hstore;
DROP SCHEMA IF EXISTS transforms2 CASCADE;
CREATE SCHEMA transforms2;
SET search_path = transforms2, public;
CREATE EXTENSION IF NOT EXISTS jsonb_plpython3u CASCADE;
CREATE EXTENSION IF NOT EXISTS hstore_plpython3u CASCADE;
SET client_min_messages = notice;
CREATE TYPE jc AS (j jsonb, h hstore, arr jsonb[], n int);
CREATE TYPE outer_c AS (inner_c jc, tag text);
CREATE FUNCTION comp_in(x jc) RETURNS text LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb, FOR TYPE hstore AS $$
return repr(x)
$$;
SELECT comp_in(ROW('{"a": 1}', 'k=>v', ARRAY['[1]'::jsonb, NULL], 2)::jc);
CREATE FUNCTION comp_in_plain(x jc) RETURNS text LANGUAGE plpython3u AS $$
return repr(x)
$$;
SELECT comp_in_plain(ROW('{"a": 1}', 'k=>v', ARRAY['[1]'::jsonb], 2)::jc);
CREATE FUNCTION nested_in(x outer_c, xs jc[]) RETURNS text LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
return repr((x, xs))
$$;
SELECT nested_in(ROW(ROW('{"deep": [true]}', NULL, NULL, 1)::jc, 't')::outer_c,
                 ARRAY[ROW('{"e": 1}', NULL, NULL, 3)::jc]);
CREATE FUNCTION rec_in() RETURNS text LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
return repr(plpy.execute("""SELECT ROW('{"a": 1}'::jsonb, 2) AS r""")[0]['r'])
$$;
SELECT rec_in();
CREATE PROCEDURE proc_inout(INOUT x jc) LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
plpy.notice(repr(x['j']))
x['j']['seen'] = True
return (x,)
$$;
CALL proc_inout(ROW('{"p": 1}', NULL, NULL, 0)::jc);
CREATE FUNCTION spi_comp() RETURNS text LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
r = plpy.execute("""SELECT ROW('{"a": 1}'::jsonb, NULL, NULL, 1)::transforms2.jc AS c,
                           ARRAY[ROW('{"b": 2}'::jsonb, NULL, NULL, 2)::transforms2.jc] AS cs""")
return repr((r[0]['c'], r[0]['cs']))
$$;
SELECT spi_comp();
CREATE TABLE tc (c jc, j jsonb);
CREATE FUNCTION trig_comp() RETURNS trigger LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
plpy.notice(repr(TD['new']))
$$;
CREATE TRIGGER tc_t BEFORE INSERT ON tc FOR EACH ROW EXECUTE FUNCTION trig_comp();
INSERT INTO tc VALUES (ROW('{"t": 1}', NULL, NULL, 5), '{"top": 1}');
DROP SCHEMA transforms2 CASCADE;
