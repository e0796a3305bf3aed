-- SQLSTATE 00000 given to plpy.error/plpy.warning or set on a raised plpy.Error/SPIError is no code
-- (MAKE_SQLSTATE gives 0): the level's default applies (plpy_plpymodule.c PLy_output; plpy_elog.c
-- PLy_elog_impl gives 38000). Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
DO $$
try:
    plpy.error('caught', sqlstate='00000')
except plpy.Error as e:
    plpy.notice('sqlstate %s' % e.sqlstate)
try:
    plpy.error('caught', sqlstate='22012')
except plpy.Error as e:
    plpy.notice('sqlstate %s' % e.sqlstate)
$$ LANGUAGE plpython3u;
\set VERBOSITY sqlstate
DO $$ plpy.error('no code', sqlstate='00000') $$ LANGUAGE plpython3u;
DO $$ plpy.error('a code', sqlstate='22012') $$ LANGUAGE plpython3u;
DO $$ plpy.warning('no code', sqlstate='00000') $$ LANGUAGE plpython3u;
DO $$ plpy.notice('no code', sqlstate='00000') $$ LANGUAGE plpython3u;
DO $$
e = plpy.Error('raised')
e.sqlstate = '00000'
raise e
$$ LANGUAGE plpython3u;
DO $$
e = plpy.SPIError('raised')
e.sqlstate = '00000'
raise e
$$ LANGUAGE plpython3u;
DO $$
e = plpy.Error('raised')
e.sqlstate = '22012'
raise e
$$ LANGUAGE plpython3u;
\set VERBOSITY default
