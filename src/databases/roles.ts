// Roles across databases: the initial database's pg_authid is the authority (passwords live only there);
// other databases' clusters get the roles copied at CREATE DATABASE and made or refreshed at each login.
import type { Engine } from '../engine/client.js'
import { AUTHORITY_DB } from '../engine/storage/clusters.js'
import { quoteIdent } from './statements.js'

/** A text literal of any string (no quoting pitfalls: hex through decode). */
export function sqlText(s: string): string {
  return `pg_catalog.convert_from(pg_catalog.decode('${Buffer.from(s, 'utf8').toString('hex')}', 'hex'), 'UTF8')`
}

const ROLE_ATTRS = [
  ['rolsuper', 'SUPERUSER'],
  ['rolinherit', 'INHERIT'],
  ['rolcreaterole', 'CREATEROLE'],
  ['rolcreatedb', 'CREATEDB'],
  ['rolcanlogin', 'LOGIN'],
  ['rolreplication', 'REPLICATION'],
  ['rolbypassrls', 'BYPASSRLS'],
] as const
const ROLE_COLUMNS = ROLE_ATTRS.map(([c]) => c).join(', ')

function attrs(row: Record<string, string | null>): string {
  return ROLE_ATTRS.map(([c, kw]) => (row[c] === 't' ? kw : `NO${kw}`)).join(' ')
}

/** A role as authentication and session start-up need it (pg_authid). */
export interface RoleRow {
  oid: number
  name: string
  superuser: boolean
  canLogin: boolean
  /** rolpassword: `SCRAM-SHA-256$iter:salt$StoredKey:ServerKey`, `md5<hex>` or null */
  password: string | null
  /** rolvaliduntil has passed */
  expired: boolean
}

export class Roles {
  constructor(private readonly engine: Engine) {}

  /**
   * The login role, from the initial database's pg_authid (the only place passwords live), whatever
   * database the client asked for: nothing is opened for a client that has not authenticated.
   */
  async lookup(name: string): Promise<RoleRow | null> {
    const r = await this.engine.queryRows(
      AUTHORITY_DB,
      `SELECT oid, rolname, rolsuper, rolcanlogin, rolpassword, COALESCE(rolvaliduntil < now(), false)
         FROM pg_catalog.pg_authid WHERE rolname = ${sqlText(name)}`,
    )
    const row = r.rows[0]
    if (!row) return null
    const role: RoleRow = {
      oid: Number(row[0]),
      name: row[1]!,
      superuser: row[2] === 't',
      canLogin: row[3] === 't',
      password: row[4] ?? null,
      expired: row[5] === 't',
    }
    return role
  }

  /** Make role `name` exist in `db`'s cluster with the authority's attributes; its OID there. */
  async ensure(db: string, name: string): Promise<number> {
    const q = `SELECT oid, ${ROLE_COLUMNS} FROM pg_catalog.pg_authid WHERE rolname = ${sqlText(name)}`
    const [want] = await this.engine.query(AUTHORITY_DB, q)
    if (!want) throw new Error(`role "${name}" vanished`)
    let [have] = await this.engine.query(db, q)
    if (!have) {
      await this.engine.queryRows(db, `CREATE ROLE ${quoteIdent(name)} WITH ${attrs(want)}`)
      ;[have] = await this.engine.query(db, q)
    } else if (attrs(have) !== attrs(want)) {
      await this.engine.queryRows(db, `ALTER ROLE ${quoteIdent(name)} WITH ${attrs(want)}`)
    }
    return Number(have!.oid)
  }

  /** CREATE ROLE / GRANT statements that give a new cluster the authority's roles and memberships. */
  async script(): Promise<string[]> {
    const roles = await this.engine.query(
      AUTHORITY_DB,
      `SELECT rolname, ${ROLE_COLUMNS} FROM pg_catalog.pg_authid WHERE oid >= 16384 ORDER BY oid`,
    )
    // template1 may have some of them already (made there on connect): each in a DO block that tolerates that
    const tolerant = (sql: string) =>
      `DO $pyglite$ BEGIN ${sql}; EXCEPTION WHEN duplicate_object THEN NULL; END $pyglite$`
    const out = roles.map((r) => tolerant(`CREATE ROLE ${quoteIdent(r.rolname!)} WITH ${attrs(r)}`))
    const grants = await this.engine.query(
      AUTHORITY_DB,
      `SELECT r.rolname AS role, m.rolname AS member, a.admin_option, a.inherit_option, a.set_option
         FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_authid r ON r.oid = a.roleid
         JOIN pg_catalog.pg_authid m ON m.oid = a.member WHERE a.member >= 16384`,
    )
    for (const g of grants) {
      const opt = (v: string | null | undefined) => (v === 't' ? 'TRUE' : 'FALSE')
      out.push(
        tolerant(
          `GRANT ${quoteIdent(g.role!)} TO ${quoteIdent(g.member!)} WITH ADMIN ${opt(g.admin_option)}, INHERIT ${opt(g.inherit_option)}, SET ${opt(g.set_option)}`,
        ),
      )
    }
    return out
  }

  /** The login role's attributes in the authority (createdb privilege, superuser). */
  async flags(user: string): Promise<{ superuser: boolean; createdb: boolean }> {
    const [r] = await this.engine.query(
      AUTHORITY_DB,
      `SELECT rolsuper, rolcreatedb FROM pg_catalog.pg_authid WHERE rolname = ${sqlText(user)}`,
    )
    return { superuser: r?.rolsuper === 't', createdb: r?.rolcreatedb === 't' }
  }

  async has(user: string, role: string, mode: 'SET' | 'USAGE'): Promise<boolean> {
    const [r] = await this.engine.query(
      AUTHORITY_DB,
      `SELECT pg_catalog.pg_has_role(${sqlText(user)}, ${sqlText(role)}, '${mode}') AS ok`,
    )
    return r?.ok === 't'
  }
}
