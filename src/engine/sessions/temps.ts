// Temporary tables on the shared backend. PostgreSQL gives each backend one temp schema (pg_temp_N), so
// all sessions here share it: names can clash between sessions and each sees the others' temp tables.
// What can be done honestly: remember which session created which temp relation, and drop a session's
// temp relations when it disconnects (PostgreSQL drops them at backend exit: namespace.c
// RemoveTempRelationsCallback). See docs/sessions.md.
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'

/** Whether an input may create a temporary relation: "temp" (TEMP, TEMPORARY), any case, in its bytes. */
export function mayCreateTemp(data: Uint8Array): boolean {
  for (let i = 0; i + 3 < data.length; i++) {
    if ((data[i]! | 0x20) !== 0x74) continue
    if ((data[i + 1]! | 0x20) === 0x65 && (data[i + 2]! | 0x20) === 0x6d && (data[i + 3]! | 0x20) === 0x70)
      return true
  }
  return false
}

const LIST = `SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = pg_catalog.pg_my_temp_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`

/** After a turn that may have created temp relations (the session is idle): the new ones are its own. */
export function claimTemps(b: Backend, s: EngineSession): void {
  const owned = new Set<number>()
  for (const o of b.sessions.values()) for (const t of o.temps) owned.add(t)
  for (const [oid] of b.exec(LIST).rows) {
    const n = Number(oid)
    if (!owned.has(n)) s.temps.add(n)
  }
}

/** SQL that drops the session's temp relations that still exist (run as part of its disconnect). */
export function dropTempsSql(s: EngineSession): string | null {
  if (s.temps.size === 0) return null
  const oids = [...s.temps].join(',')
  s.temps.clear()
  // one DO block: each relation with the DROP its kind needs; CASCADE as backend exit does
  return `DO $pyglite$ DECLARE r record; BEGIN FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_catalog.pg_class c WHERE c.oid IN (${oids}) AND c.relnamespace = pg_catalog.pg_my_temp_schema() LOOP EXECUTE pg_catalog.format('DROP %s IF EXISTS %s CASCADE', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name); END LOOP; END $pyglite$`
}
