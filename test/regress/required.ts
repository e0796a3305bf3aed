// The PostgreSQL 18.6 PL/Python regression tests that must match their expected output exactly, by
// owner. One shared list: each engineer adds the tests their issue makes pass (test/regress/
// plpython.test.ts asserts every one of them). A test waiting on another area's work is listed in
// PENDING with the reason, and moves to its owner's list when that work lands.

export const REQUIRED: Record<string, string[]> = {
  // issue 3: the language core (functions, types, SRFs, records, procedures, errors)
  plpython: [
    'plpython_schema',
    'plpython_populate',
    'plpython_test',
    'plpython_do',
    'plpython_global',
    'plpython_import',
    'plpython_newline',
    'plpython_void',
    'plpython_call',
    'plpython_params',
    'plpython_setof',
    'plpython_record',
    'plpython_types',
    'plpython_composite',
    'plpython_drop',
  ],
  // issue 4: the plpy module (those passing when this list was made; the plpy engineer owns it)
  plpy: [
    'plpython_spi',
    'plpython_error',
    'plpython_ereport',
    'plpython_quote',
    'plpython_subtransaction',
    'plpython_transaction',
  ],
  // issue 5: triggers
  triggers: ['plpython_trigger', 'plpython_unicode'],
}

/** Required by an issue but blocked on another area: name → what is missing (and whose it is). */
export const PENDING: Record<string, string> = {}

export const ALL_REQUIRED: string[] = Object.values(REQUIRED).flat()

/**
 * PostgreSQL 18.6's contrib regression suites (scripts/get-pg18-contrib.sh, run by test/regress/
 * contrib.test.ts): suite → its tests that must match exactly (issue 18). The whole suite unless noted.
 */
export const CONTRIB_REQUIRED: Record<string, string[] | 'all'> = {
  hstore: 'all',
  pgcrypto: 'all',
  pg_trgm: 'all',
  'uuid-ossp': 'all',
  ltree: 'all',
  citext: 'all',
  cube: 'all',
  earthdistance: 'all',
  fuzzystrmatch: 'all',
  intarray: 'all',
  btree_gin: 'all',
  btree_gist: 'all',
  tablefunc: 'all',
  unaccent: 'all',
  isn: 'all',
  seg: 'all',
  // PL/Python's transforms (pyglite's handler converts these types itself: src/python/transforms.ts)
  jsonb_plpython: 'all',
  hstore_plpython: 'all',
  ltree_plpython: 'all',
}
