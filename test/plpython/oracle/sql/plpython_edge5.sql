-- Names and bodies as PL/Python sees them: plpy is a module whose spiexceptions is an attribute named
-- "spiexceptions" (not an importable submodule); a function's Python name munges each byte of a non-ASCII
-- name (plpy_procedure.c); a body that starts with a byte-order mark is PL/Python's SyntaxError (the mark
-- is text, not dropped). Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
DO $$ plpy.info(plpy.spiexceptions.__name__, plpy.__name__, type(plpy.spiexceptions).__name__) $$ LANGUAGE plpython3u;
DO $$ import plpy.spiexceptions as s; plpy.info(s.__name__) $$ LANGUAGE plpython3u;
DO $$
from plpy import spiexceptions
plpy.info(spiexceptions.DivisionByZero.__module__, spiexceptions.DivisionByZero.__name__)
$$ LANGUAGE plpython3u;
DO $$
import sys
plpy.info(sorted(m for m in sys.modules if m.startswith('plpy') or m == 'spiexceptions'))
$$ LANGUAGE plpython3u;
CREATE FUNCTION "fün_é"() RETURNS text LANGUAGE plpython3u AS $$
import sys
return sys._getframe().f_code.co_name
$$;
SELECT regexp_replace("fün_é"(), '[0-9]+$', 'N');
CREATE FUNCTION "fün_err"() RETURNS text LANGUAGE plpython3u AS $$
raise ValueError("x")
$$;
SELECT "fün_err"();
CREATE FUNCTION bom() RETURNS int LANGUAGE plpython3u AS E'\uFEFFreturn 1';
SELECT bom();
CREATE FUNCTION bom2() RETURNS int LANGUAGE plpython3u AS E'\n\uFEFFreturn 1';
CREATE FUNCTION bom3() RETURNS text LANGUAGE plpython3u AS E'return "\uFEFFx"';
SELECT length(bom3());
DO E'\uFEFFplpy.info(1)' LANGUAGE plpython3u;
