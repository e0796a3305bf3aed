-- Run-time error paths: argument and result conversion, SPI, subtransactions, set-returning functions,
-- procedures and transaction control; checked against PostgreSQL 15 + plpython3u (expected output
-- recorded there).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS errors2 CASCADE;
CREATE SCHEMA errors2;
SET search_path = errors2, public;
SET client_min_messages = notice;
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN nn_text AS text NOT NULL;
-- result conversion
CREATE FUNCTION r_int_str() RETURNS int AS $$ return 'abc' $$ LANGUAGE plpython3u;
SELECT r_int_str();
CREATE FUNCTION r_int_big() RETURNS int AS $$ return 2**40 $$ LANGUAGE plpython3u;
SELECT r_int_big();
CREATE FUNCTION r_smallint_big() RETURNS smallint AS $$ return 70000 $$ LANGUAGE plpython3u;
SELECT r_smallint_big();
CREATE FUNCTION r_bigint_huge() RETURNS bigint AS $$ return 2**70 $$ LANGUAGE plpython3u;
SELECT r_bigint_huge();
CREATE FUNCTION r_numeric_bad() RETURNS numeric AS $$ return 'x1' $$ LANGUAGE plpython3u;
SELECT r_numeric_bad();
CREATE FUNCTION r_bytea_int() RETURNS bytea AS $$ return 12 $$ LANGUAGE plpython3u;
SELECT r_bytea_int();
-- PostgreSQL 18 writes "DateStyle" in this hint where 15 writes "datestyle": 18 wins (expected edited)
CREATE FUNCTION r_date_bad() RETURNS date AS $$ return '2024-13-45' $$ LANGUAGE plpython3u;
SELECT r_date_bad();
CREATE FUNCTION r_json_bad() RETURNS json AS $$ return '{bad' $$ LANGUAGE plpython3u;
SELECT r_json_bad();
CREATE FUNCTION r_domain_check() RETURNS posint AS $$ return -1 $$ LANGUAGE plpython3u;
SELECT r_domain_check();
CREATE FUNCTION r_domain_null() RETURNS nn_text AS $$ return None $$ LANGUAGE plpython3u;
SELECT r_domain_null();
CREATE FUNCTION r_text_nul() RETURNS text AS $$ return 'a\x00b' $$ LANGUAGE plpython3u;
SELECT r_text_nul();
CREATE FUNCTION r_comp_missing() RETURNS pair AS $$ return {'a': 1} $$ LANGUAGE plpython3u;
SELECT r_comp_missing();
CREATE FUNCTION r_comp_short() RETURNS pair AS $$ return (1,) $$ LANGUAGE plpython3u;
SELECT r_comp_short();
CREATE FUNCTION r_comp_long() RETURNS pair AS $$ return [1, 'x', 3] $$ LANGUAGE plpython3u;
SELECT r_comp_long();
CREATE FUNCTION r_comp_int() RETURNS pair AS $$ return 5 $$ LANGUAGE plpython3u;
SELECT r_comp_int();
CREATE FUNCTION r_comp_obj() RETURNS pair AS $$
class P:
    a = 1
return P()
$$ LANGUAGE plpython3u;
SELECT r_comp_obj();
CREATE FUNCTION r_comp_badfield() RETURNS pair AS $$ return {'a': 'x', 'b': 'y'} $$ LANGUAGE plpython3u;
SELECT r_comp_badfield();
CREATE FUNCTION r_arr_ragged() RETURNS int[] AS $$ return [[1, 2], [3]] $$ LANGUAGE plpython3u;
SELECT r_arr_ragged();
CREATE FUNCTION r_arr_mixed() RETURNS int[] AS $$ return [[1, 2], 3] $$ LANGUAGE plpython3u;
SELECT r_arr_mixed();
CREATE FUNCTION r_arr_elem() RETURNS int[] AS $$ return [1, 'two'] $$ LANGUAGE plpython3u;
SELECT r_arr_elem();
CREATE FUNCTION r_arr_deep() RETURNS int[] AS $$
x = 1
for i in range(7):
    x = [x]
return x
$$ LANGUAGE plpython3u;
SELECT r_arr_deep();
CREATE FUNCTION r_record_noinfo() RETURNS record AS $$ return (1, 2) $$ LANGUAGE plpython3u;
SELECT r_record_noinfo();
SELECT * FROM r_record_noinfo() AS t(a int);
CREATE FUNCTION r_out_short(OUT a int, OUT b int) AS $$ return (1,) $$ LANGUAGE plpython3u;
SELECT * FROM r_out_short();
CREATE FUNCTION r_table_bad() RETURNS TABLE (a int, b int) AS $$ return [(1, 'x')] $$ LANGUAGE plpython3u;
SELECT * FROM r_table_bad();
-- argument conversion
CREATE FUNCTION a_comp(p pair) RETURNS text AS $$ return p['c'] $$ LANGUAGE plpython3u;
SELECT a_comp((1, 'x'));
CREATE FUNCTION a_arr(a int[]) RETURNS int AS $$ return a[5] $$ LANGUAGE plpython3u;
SELECT a_arr(ARRAY[1, 2]);
CREATE FUNCTION a_undefined() RETURNS int AS $$ return undefined_name $$ LANGUAGE plpython3u;
SELECT a_undefined();
CREATE FUNCTION a_unbound(a int) RETURNS int AS $$
a = a + 1
return a
$$ LANGUAGE plpython3u;
SELECT a_unbound(1);
-- set-returning functions
CREATE FUNCTION s_notiter() RETURNS SETOF int AS $$ return 5 $$ LANGUAGE plpython3u;
SELECT s_notiter();
CREATE FUNCTION s_none() RETURNS SETOF int AS $$ return None $$ LANGUAGE plpython3u;
SELECT s_none();
CREATE FUNCTION s_gen_fail() RETURNS SETOF int AS $$
yield 1
raise KeyError('k')
$$ LANGUAGE plpython3u;
SELECT s_gen_fail();
CREATE FUNCTION s_iter_fail() RETURNS SETOF int AS $$
class It:
    def __iter__(self):
        return self
    def __next__(self):
        raise ValueError('next failed')
return It()
$$ LANGUAGE plpython3u;
SELECT s_iter_fail();
CREATE FUNCTION s_bad_item() RETURNS SETOF int AS $$ return [1, 'x'] $$ LANGUAGE plpython3u;
SELECT s_bad_item();
CREATE FUNCTION s_spi_in_gen() RETURNS SETOF int AS $$
yield 1
plpy.execute('select 1/0')
$$ LANGUAGE plpython3u;
SELECT s_spi_in_gen();
CREATE FUNCTION s_comp_bad() RETURNS SETOF pair AS $$ return [{'a': 1}] $$ LANGUAGE plpython3u;
SELECT * FROM s_comp_bad();
-- SPI
CREATE FUNCTION q_syntax() RETURNS void AS $$ plpy.execute('selec 1') $$ LANGUAGE plpython3u;
SELECT q_syntax();
CREATE FUNCTION q_missing() RETURNS void AS $$ plpy.execute('select * from no_such_table') $$ LANGUAGE plpython3u;
SELECT q_missing();
CREATE FUNCTION q_caught() RETURNS text AS $$
try:
    plpy.execute('select * from no_such_table')
except plpy.spiexceptions.UndefinedTable as e:
    return '%s %s' % (e.sqlstate, e)
$$ LANGUAGE plpython3u;
SELECT q_caught();
CREATE FUNCTION q_prepare_bad() RETURNS void AS $$ plpy.prepare('select $1', ['nosuchtype']) $$ LANGUAGE plpython3u;
SELECT q_prepare_bad();
CREATE FUNCTION q_prepare_args() RETURNS void AS $$
p = plpy.prepare('select $1::int', ['int'])
plpy.execute(p, ['x'])
$$ LANGUAGE plpython3u;
SELECT q_prepare_args();
CREATE FUNCTION q_prepare_count() RETURNS void AS $$
p = plpy.prepare('select $1::int', ['int'])
plpy.execute(p, [1, 2])
$$ LANGUAGE plpython3u;
SELECT q_prepare_count();
CREATE FUNCTION q_prepare_notseq() RETURNS void AS $$
p = plpy.prepare('select $1::int', ['int'])
plpy.execute(p, 1)
$$ LANGUAGE plpython3u;
SELECT q_prepare_notseq();
CREATE FUNCTION q_unique() RETURNS void AS $$
plpy.execute('create temp table u (a int primary key)')
plpy.execute('insert into u values (1)')
plpy.execute('insert into u values (1)')
$$ LANGUAGE plpython3u;
SELECT q_unique();
CREATE FUNCTION q_after_error() RETURNS text AS $$
try:
    plpy.execute('select 1/0')
except plpy.SPIError:
    pass
return plpy.execute('select 42 as x')[0]['x']
$$ LANGUAGE plpython3u;
SELECT q_after_error();
CREATE FUNCTION q_cursor_bad() RETURNS void AS $$
c = plpy.cursor('select 1/0')
c.fetch(1)
$$ LANGUAGE plpython3u;
SELECT q_cursor_bad();
CREATE FUNCTION q_cursor_closed() RETURNS void AS $$
c = plpy.cursor('select 1')
c.close()
c.fetch(1)
$$ LANGUAGE plpython3u;
SELECT q_cursor_closed();
CREATE FUNCTION q_raise_error_fields() RETURNS void AS $$
plpy.error('msg', detail='det', hint='hnt', sqlstate='22012', schema_name='s', table_name='t',
           column_name='c', datatype_name='d', constraint_name='k')
$$ LANGUAGE plpython3u;
\set VERBOSITY verbose
SELECT q_raise_error_fields();
\set VERBOSITY default
CREATE FUNCTION q_bad_sqlstate() RETURNS void AS $$ plpy.error('m', sqlstate='XYZ') $$ LANGUAGE plpython3u;
SELECT q_bad_sqlstate();
CREATE FUNCTION q_bad_kw() RETURNS void AS $$ plpy.error('m', nope=1) $$ LANGUAGE plpython3u;
SELECT q_bad_kw();
CREATE FUNCTION q_fatal() RETURNS void AS $$ plpy.warning('w'); plpy.notice('n', detail='nd') $$ LANGUAGE plpython3u;
SELECT q_fatal();
-- subtransactions
CREATE TABLE st (a int);
CREATE FUNCTION x_sub_rollback() RETURNS text AS $$
try:
    with plpy.subtransaction():
        plpy.execute('insert into st values (1)')
        plpy.execute('insert into st values (1/0)')
except plpy.SPIError as e:
    return 'caught: %s' % e
$$ LANGUAGE plpython3u;
SELECT x_sub_rollback();
SELECT count(*) FROM st;
CREATE FUNCTION x_sub_python_error() RETURNS void AS $$
with plpy.subtransaction():
    plpy.execute('insert into st values (2)')
    raise ValueError('inside')
$$ LANGUAGE plpython3u;
SELECT x_sub_python_error();
SELECT count(*) FROM st;
CREATE FUNCTION x_sub_reenter() RETURNS void AS $$
s = plpy.subtransaction()
with s:
    pass
with s:
    pass
$$ LANGUAGE plpython3u;
SELECT x_sub_reenter();
CREATE FUNCTION x_sub_exit_unentered() RETURNS void AS $$
s = plpy.subtransaction()
s.__exit__(None, None, None)
$$ LANGUAGE plpython3u;
SELECT x_sub_exit_unentered();
CREATE FUNCTION x_sub_left_open() RETURNS void AS $$
s = plpy.subtransaction()
s.__enter__()
plpy.execute('insert into st values (3)')
$$ LANGUAGE plpython3u;
SELECT x_sub_left_open();
SELECT count(*) FROM st;
CREATE FUNCTION x_commit_in_func() RETURNS void AS $$ plpy.commit() $$ LANGUAGE plpython3u;
SELECT x_commit_in_func();
-- procedures
CREATE PROCEDURE pr_ret() AS $$ return 1 $$ LANGUAGE plpython3u;
CALL pr_ret();
CREATE PROCEDURE pr_inout(INOUT a int) AS $$ return 5 $$ LANGUAGE plpython3u;
CALL pr_inout(1);
CREATE PROCEDURE pr_inout2(INOUT a int, INOUT b int) AS $$ return [1] $$ LANGUAGE plpython3u;
CALL pr_inout2(1, 2);
CREATE PROCEDURE pr_commit_sub() AS $$
with plpy.subtransaction():
    plpy.commit()
$$ LANGUAGE plpython3u;
CALL pr_commit_sub();
CREATE PROCEDURE pr_commit_in_tx() AS $$ plpy.commit() $$ LANGUAGE plpython3u;
BEGIN;
CALL pr_commit_in_tx();
ROLLBACK;
CREATE PROCEDURE pr_error_after_commit() AS $$
plpy.execute('insert into st values (10)')
plpy.commit()
plpy.execute('insert into st values (11)')
raise ValueError('after commit')
$$ LANGUAGE plpython3u;
CALL pr_error_after_commit();
SELECT a FROM st WHERE a >= 10 ORDER BY a;
CREATE PROCEDURE pr_rollback_cursor() AS $$
for row in plpy.cursor('select generate_series(1, 3) as x'):
    plpy.rollback()
$$ LANGUAGE plpython3u;
CALL pr_rollback_cursor();
DO $$ plpy.commit() $$ LANGUAGE plpython3u;
BEGIN;
DO $$ plpy.commit() $$ LANGUAGE plpython3u;
ROLLBACK;
-- recursion and nested errors
CREATE FUNCTION n_inner() RETURNS int AS $$ raise ValueError('inner') $$ LANGUAGE plpython3u;
CREATE FUNCTION n_outer() RETURNS int AS $$ return plpy.execute('select n_inner() as x')[0]['x'] $$ LANGUAGE plpython3u;
SELECT n_outer();
CREATE FUNCTION n_outer_caught() RETURNS text AS $$
try:
    plpy.execute('select n_inner()')
except plpy.SPIError as e:
    return 'caught %s / %s' % (e.__class__.__name__, e)
$$ LANGUAGE plpython3u;
SELECT n_outer_caught();
-- last in the session: PostgreSQL ignores __bool__'s exception (PLyObject_ToBool) and leaves it set,
-- so the next compile in this backend would report it
CREATE FUNCTION r_bool_obj() RETURNS bool AS $$
class C:
    def __bool__(self):
        raise ValueError('no truth')
return C()
$$ LANGUAGE plpython3u;
SELECT r_bool_obj();
DROP SCHEMA errors2 CASCADE;
