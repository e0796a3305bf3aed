-- An error whose text does not encode to the server encoding (a lone surrogate in the exception's message
-- or in plpy.error's detail) is PL/Python's "could not convert Python Unicode object to bytes" with the
-- codec's error as detail (plpy_util.c PLyUnicode_Bytes). Expected output recorded on PostgreSQL 15.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
CREATE FUNCTION sur_ok() RETURNS text LANGUAGE plpython3u AS $$
try:
    raise ValueError('a\udc80b')
except ValueError as e:
    return 'caught %d' % len(str(e))
$$;
SELECT sur_ok();
DO $$ raise ValueError('a\udc80b') $$ LANGUAGE plpython3u;
DO $$ plpy.error('x', detail='a\udc80b') $$ LANGUAGE plpython3u;
-- (PostgreSQL 15's interpreter is left broken after these: "SystemError: unknown opcode" at the next
-- compile, so the file ends here; test/plpython/robustness.test.ts has a set-returning case)
