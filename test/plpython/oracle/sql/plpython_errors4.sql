-- Trigger error paths: bad return values, MODIFY with bad rows, errors inside trigger functions and their
-- SPI, statement-level and TRUNCATE triggers, event triggers refused; checked against PostgreSQL 15 +
-- plpython3u (expected output recorded there).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS errors4 CASCADE;
CREATE SCHEMA errors4;
SET search_path = errors4, public;
SET client_min_messages = notice;
CREATE TABLE t (a int, b text);
CREATE FUNCTION tr_ret_int() RETURNS trigger AS $$ return 5 $$ LANGUAGE plpython3u;
CREATE TRIGGER tr1 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_ret_int();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr1 ON t;
CREATE FUNCTION tr_ret_bad_str() RETURNS trigger AS $$ return 'MODIFIED' $$ LANGUAGE plpython3u;
CREATE TRIGGER tr2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_ret_bad_str();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr2 ON t;
CREATE FUNCTION tr_modify_not_dict() RETURNS trigger AS $$
TD['new'] = 5
return 'MODIFY'
$$ LANGUAGE plpython3u;
CREATE TRIGGER tr3 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_modify_not_dict();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr3 ON t;
CREATE FUNCTION tr_modify_bad_key() RETURNS trigger AS $$
TD['new']['nope'] = 1
return 'MODIFY'
$$ LANGUAGE plpython3u;
CREATE TRIGGER tr4 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_modify_bad_key();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr4 ON t;
CREATE FUNCTION tr_modify_nonstr_key() RETURNS trigger AS $$
TD['new'][1] = 1
return 'MODIFY'
$$ LANGUAGE plpython3u;
CREATE TRIGGER tr5 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_modify_nonstr_key();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr5 ON t;
CREATE FUNCTION tr_modify_bad_value() RETURNS trigger AS $$
TD['new']['a'] = 'not a number'
return 'MODIFY'
$$ LANGUAGE plpython3u;
CREATE TRIGGER tr6 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_modify_bad_value();
INSERT INTO t VALUES (1, 'x');
DROP TRIGGER tr6 ON t;
CREATE FUNCTION tr_modify_in_delete() RETURNS trigger AS $$ return 'MODIFY' $$ LANGUAGE plpython3u;
INSERT INTO t VALUES (1, 'x');
CREATE TRIGGER tr7 BEFORE DELETE ON t FOR EACH ROW EXECUTE FUNCTION tr_modify_in_delete();
DELETE FROM t;
DROP TRIGGER tr7 ON t;
CREATE FUNCTION tr_raise() RETURNS trigger AS $$
def check(row):
    if row['a'] < 0:
        raise ValueError('negative a: %d' % row['a'])
check(TD['new'])
$$ LANGUAGE plpython3u;
CREATE TRIGGER tr8 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_raise();
INSERT INTO t VALUES (-1, 'x');
DROP TRIGGER tr8 ON t;
CREATE FUNCTION tr_spi_error() RETURNS trigger AS $$ plpy.execute('select * from missing_table') $$ LANGUAGE plpython3u;
CREATE TRIGGER tr9 AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION tr_spi_error();
INSERT INTO t VALUES (2, 'y');
DROP TRIGGER tr9 ON t;
CREATE FUNCTION tr_stmt_modify() RETURNS trigger AS $$ return 'MODIFY' $$ LANGUAGE plpython3u;
CREATE TRIGGER tr10 BEFORE UPDATE ON t FOR EACH STATEMENT EXECUTE FUNCTION tr_stmt_modify();
UPDATE t SET a = 3;
DROP TRIGGER tr10 ON t;
CREATE FUNCTION tr_after_skip() RETURNS trigger AS $$ return 'SKIP' $$ LANGUAGE plpython3u;
CREATE TRIGGER tr11 AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_after_skip();
INSERT INTO t VALUES (4, 'z');
DROP TRIGGER tr11 ON t;
CREATE FUNCTION tr_truncate() RETURNS trigger AS $$ raise Exception('no truncate: %s' % TD['event']) $$ LANGUAGE plpython3u;
CREATE TRIGGER tr12 BEFORE TRUNCATE ON t FOR EACH STATEMENT EXECUTE FUNCTION tr_truncate();
TRUNCATE t;
DROP TRIGGER tr12 ON t;
CREATE FUNCTION tr_args() RETURNS trigger AS $$ plpy.notice(TD['args'][5]) $$ LANGUAGE plpython3u;
CREATE TRIGGER tr13 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tr_args('a', 'b');
INSERT INTO t VALUES (5, 'w');
DROP TRIGGER tr13 ON t;
CREATE VIEW v AS SELECT * FROM t;
CREATE FUNCTION tr_instead_bad() RETURNS trigger AS $$ return 'MODIFY' $$ LANGUAGE plpython3u;
CREATE TRIGGER tr14 INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION tr_instead_bad();
INSERT INTO v VALUES (6, 'v');
SELECT * FROM t ORDER BY a;
DROP SCHEMA errors4 CASCADE;
