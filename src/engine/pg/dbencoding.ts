// The database's encoding, for the Python code that reads and writes its text. PL/Python converts between
// the server encoding and Python's UTF-8 at every string (plpy_util.c PLyUnicode_FromString, PLyUnicode_Bytes);
// pyglite's PL/Python, plcolumns and the Python foreign-data wrapper read the engine's text as UTF-8. In a
// database of another encoding (CREATE DATABASE … ENCODING 'LATIN1') that would turn 'é' into mojibake
// silently, so they refuse to run there. SQL_ASCII has no conversion in PostgreSQL either.
import { PgError } from './elog.js'
import type { Heap } from './heap.js'

/** pg_wchar.h's enum pg_enc */
const PG_SQL_ASCII = 0
const PG_UTF8 = 6

/** Raise 0A000 unless the connected database's encoding is UTF8 or SQL_ASCII. `what`: who needs it. */
export function requireUtf8Database(h: Heap, what: string): void {
  const enc = h.M._GetDatabaseEncoding() as number
  if (enc === PG_UTF8 || enc === PG_SQL_ASCII) return
  throw new PgError(`${what} ${what.endsWith('s') ? 'need' : 'needs'} a UTF8 database in pyglite`, {
    sqlstate: '0A000',
    detail: `This database's encoding is ${h.str(h.M._GetDatabaseEncodingName() as number)}.`,
    hint: "Create the database with ENCODING 'UTF8' (the default) and load the data into it.",
  })
}
