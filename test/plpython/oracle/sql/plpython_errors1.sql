-- Compile errors on every path (functions, procedures, triggers, DO blocks, the validator and the call),
-- checked against PostgreSQL 15 + plpython3u; expected output recorded there.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS errors1 CASCADE;
CREATE SCHEMA errors1;
SET search_path = errors1, public;
SET client_min_messages = notice;
-- DO blocks: syntax error, indentation error, error raised at run time, in a nested call
DO $$ x = $$ LANGUAGE plpython3u;
DO $$
if True:
pass
$$ LANGUAGE plpython3u;
DO $$
def f():
    return 1/0
f()
$$ LANGUAGE plpython3u;
DO $$ return 1 $$ LANGUAGE plpython3u;
DO $$ plpy.execute('select 1/0') $$ LANGUAGE plpython3u;
DO $$ plpy.error('custom', detail='d', hint='h') $$ LANGUAGE plpython3u;
DO $$ raise plpy.spiexceptions.DivisionByZero('div') $$ LANGUAGE plpython3u;
-- the validator: functions, procedures, triggers
CREATE FUNCTION v_fn() RETURNS int AS $$ return = $$ LANGUAGE plpython3u;
CREATE PROCEDURE v_proc() AS $$ return = $$ LANGUAGE plpython3u;
CREATE FUNCTION v_trig() RETURNS trigger AS $$ return = $$ LANGUAGE plpython3u;
CREATE FUNCTION v_indent() RETURNS int AS $$
  x = 1
 return x
$$ LANGUAGE plpython3u;
CREATE FUNCTION v_null_char() RETURNS text AS $$ return 'a' + $$ LANGUAGE plpython3u;
-- with check_function_bodies off the errors come at the first call
SET check_function_bodies = off;
CREATE FUNCTION c_fn(a int) RETURNS int AS $$ return = $$ LANGUAGE plpython3u;
CREATE PROCEDURE c_proc() AS $$ return = $$ LANGUAGE plpython3u;
CREATE FUNCTION c_trig() RETURNS trigger AS $$ return = $$ LANGUAGE plpython3u;
CREATE FUNCTION c_srf() RETURNS SETOF int AS $$ yield = $$ LANGUAGE plpython3u;
RESET check_function_bodies;
SELECT c_fn(1);
SELECT c_fn(x) FROM generate_series(1, 3) x;
CALL c_proc();
SELECT * FROM c_srf();
CREATE TABLE trig_t (a int);
CREATE TRIGGER c_trig BEFORE INSERT ON trig_t FOR EACH ROW EXECUTE FUNCTION c_trig();
INSERT INTO trig_t VALUES (1);
-- a function called from a DO block and from another function
DO $$ plpy.execute('select c_fn(1)') $$ LANGUAGE plpython3u;
CREATE FUNCTION outer_fn() RETURNS int AS $$ return plpy.execute('select c_fn(1) AS x')[0]['x'] $$ LANGUAGE plpython3u;
SELECT outer_fn();
-- pseudo-types the language refuses (PLy_procedure_create)
CREATE FUNCTION p_any(a anyelement) RETURNS int AS $$ return 1 $$ LANGUAGE plpython3u;
CREATE FUNCTION p_ret_internal() RETURNS internal AS $$ return 1 $$ LANGUAGE plpython3u;
CREATE FUNCTION p_arg_cstring(a cstring) RETURNS int AS $$ return 1 $$ LANGUAGE plpython3u;
CREATE FUNCTION p_evt() RETURNS event_trigger AS $$ pass $$ LANGUAGE plpython3u;
CREATE FUNCTION p_trig_args(a int) RETURNS trigger AS $$ return None $$ LANGUAGE plpython3u;
SELECT p_trig_args(1);
SELECT v_trig();
DROP SCHEMA errors1 CASCADE;
