-- TRANSFORM FOR TYPE in procedures (INOUT), functions with other arguments beside the transformed ones,
-- query results inside the function, DO blocks (no transforms there), and TO SQL errors; checked against
-- PostgreSQL 15 + plpython3u with Debian's transform extensions (expected output recorded there).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE EXTENSION IF NOT EXISTS hstore;
DROP SCHEMA IF EXISTS transforms CASCADE;
CREATE SCHEMA transforms;
SET search_path = transforms, public;
SET client_min_messages = notice;
CREATE EXTENSION IF NOT EXISTS jsonb_plpython3u CASCADE;
CREATE EXTENSION IF NOT EXISTS hstore_plpython3u CASCADE;
CREATE OR REPLACE PROCEDURE tp(INOUT j jsonb, INOUT n int) LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$
plpy.info(type(j).__name__, sorted(j.items()))
j['added'] = True
return [j, n + 1]
$$;
CALL tp('{"a": 1.5}', 1);
CREATE OR REPLACE FUNCTION tf(j jsonb, h hstore, i int, t text) RETURNS TABLE (r jsonb, k int) LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb, FOR TYPE hstore AS $$
plpy.info(repr(j), repr(h), i, t)
return [({'x': [1, None]}, i)]
$$;
SELECT * FROM tf('[1, {"b": null}]', 'k=>v', 7, 'txt');
CREATE OR REPLACE FUNCTION tn(j jsonb) RETURNS jsonb LANGUAGE plpython3u AS $$ return j $$;
SELECT tn('{"plain": 1}');
DO $$ plpy.info(repr(plpy.execute("select '{\"a\":1}'::jsonb as j")[0]['j'])) $$ LANGUAGE plpython3u;
CREATE OR REPLACE FUNCTION tq() RETURNS text LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$ return repr(plpy.execute("select '{\"a\":1}'::jsonb as j, 1 as i")[0]) $$;
SELECT tq();
CREATE OR REPLACE FUNCTION tnan() RETURNS jsonb LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$ return float('nan') $$;
SELECT tnan();
CREATE OR REPLACE FUNCTION tbytes() RETURNS jsonb LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb AS $$ return {'b': object()} $$;
SELECT tbytes();
DROP SCHEMA transforms CASCADE;
