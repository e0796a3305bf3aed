// Per-session settings on the one shared backend: reads the backend's GUC records straight from wasm memory
// (which settings a session changed, cheaply, at every switch) and installs another session's settings with
// set_config_option, reset values included, so that SET, RESET, RESET ALL and DISCARD ALL behave in each
// session as in its own PostgreSQL backend. Layouts: utils/guc_tables.h (PG 18, wasm32), checked at start-up.
import type { Elog, PgError } from '../pg/elog.js'
import type { Heap } from '../pg/heap.js'
import { ELEVEL } from '../pg/layout.js'

/** GucSource (utils/guc.h). The sources a session's own settings have (ALTER ROLE/DATABASE SET, start-up, SET). */
export const SRC = {
  DEFAULT: 0,
  FILE: 3,
  ARGV: 4,
  DATABASE: 6,
  USER: 7,
  DATABASE_USER: 8,
  CLIENT: 9,
  OVERRIDE: 10,
  SESSION: 13,
} as const

const SOURCE_BY_NAME: Record<string, number> = {
  default: 0,
  'environment variable': 2,
  'configuration file': 3,
  'command line': 4,
  global: 5,
  database: 6,
  user: 7,
  'database user': 8,
  client: 9,
  override: 10,
  interactive: 11,
  test: 12,
  session: 13,
}

/** GucContext PGC_SU_BACKEND: may set anything a session may set, start-up-only settings included. */
const PGC_SU_BACKEND = 3
const PGC_BACKEND = 4
const PGC_SUSET = 5
const PGC_USERSET = 6
const GUC_ACTION_SET = 0
const GUC_REPORT = 0x40

/** struct config_generic offsets (wasm32) and config_type values. */
const G = { name: 0, flags: 20, vartype: 24, source: 32, resetSource: 36, nondefLink: 64, variable: 92 }
const T = { BOOL: 0, INT: 1, REAL: 2, STRING: 3, ENUM: 4 }

/**
 * Settings that are not a session's own in this sense: the transaction's characteristics (reset by every
 * BEGIN) and the role, which the session switch restores separately (set_config on session_authorization).
 */
const NOT_SESSION_STATE = new Set([
  'transaction_isolation',
  'transaction_read_only',
  'transaction_deferrable',
  'session_authorization',
  'role',
  'is_superuser',
])

/** A setting a session starts with: a reset value of its own (PostgreSQL: makeDefault in set_config_option). */
export interface ResetEntry {
  name: string
  value: string
  source: number
}

/** What a session's settings are: reset values of its own, and values it SET (source session). */
export interface SettingsState {
  reset: Map<string, ResetEntry>
  set: Map<string, string>
}

interface Baseline {
  value: string | null
  source: number
}

export class Gucs {
  private head = 0
  /** records whose values are not session state (see NOT_SESSION_STATE) */
  private readonly skip = new Set<number>()
  /** each setting's server-wide reset value and its source, by lower-case name */
  private baseline = new Map<string, Baseline>()
  private readonly names = new Map<number, string>()

  constructor(
    private readonly heap: Heap,
    private readonly elog: Elog,
  ) {}

  /**
   * Check the layout on a known record and find the head of guc_nondef_list (guc.c: every setting whose
   * source is not the default is on it). `sql` runs an internal query on the backend.
   */
  probe(sql: (q: string) => Array<Array<string | null>>): void {
    const h = this.heap
    const rec = this.find('work_mem')
    const check = (what: string, ok: boolean) => {
      if (!ok) throw new Error(`probe: GUC record layout (${what})`)
    }
    check('name', h.str(h.u32at(rec + G.name)) === 'work_mem')
    check('vartype', h.i32at(rec + G.vartype) === T.INT)
    const before = h.i32at(h.u32at(rec + G.variable))
    sql("SET work_mem = '7777kB'")
    check('value', h.i32at(h.u32at(rec + G.variable)) === 7777)
    check('source', h.i32at(rec + G.source) === SRC.SESSION)
    // walk the circular list from this record: the one node that is not a record's link is the head
    let head = 0
    for (let n = h.u32at(rec + G.nondefLink + 4), k = 0; n !== rec + G.nondefLink && k < 10000; k++) {
      const r = n - G.nondefLink
      const nameP = h.u32at(r + G.name)
      const name = nameP > 0 && nameP < h.u8.length ? h.str(nameP) : null
      if (!name || !/^[A-Za-z0-9_.]+$/.test(name) || this.find(name) !== r) {
        check('list head', head === 0)
        head = n
      }
      n = h.u32at(n + 4)
    }
    check('list head found', head !== 0)
    this.head = head
    check('listed', this.records().includes(rec))
    sql('RESET work_mem')
    check('reset', h.i32at(h.u32at(rec + G.variable)) === before && !this.records().includes(rec))
    for (const name of NOT_SESSION_STATE) this.skip.add(this.find(name))
    for (const [name, value, source] of sql('SELECT name, reset_val, source FROM pg_catalog.pg_settings')) {
      const src = SOURCE_BY_NAME[source ?? ''] ?? SRC.DEFAULT
      this.baseline.set(name!.toLowerCase(), {
        value: src === SRC.DEFAULT ? null : (value ?? null),
        source: src,
      })
    }
  }

  /**
   * A reader of an integer setting's current value (statement_timeout, idle_in_transaction_session_timeout
   * in ms): the record's C variable, read straight from memory (records never move).
   */
  intReader(name: string): () => number {
    const rec = this.find(name)
    if (!rec || this.heap.i32at(rec + G.vartype) !== T.INT)
      throw new Error(`probe: ${name} is not an int setting`)
    const v = this.heap.u32at(rec + G.variable)
    return () => this.heap.i32at(v)
  }

  /** The record of a setting (0 if there is none): find_option without creating placeholders. */
  find(name: string): number {
    const h = this.heap
    const p = h.strdupPermanent(name)
    try {
      return h.M._find_option(p, 0, 1, ELEVEL.ERROR) as number
    } finally {
      h.M._free(p)
    }
  }

  /** The records on guc_nondef_list. */
  private records(): number[] {
    const h = this.heap
    const out: number[] = []
    for (let n = h.u32at(this.head + 4), k = 0; n !== this.head && k < 100000; k++) {
      out.push(n - G.nondefLink)
      n = h.u32at(n + 4)
    }
    return out
  }

  private nameOf(rec: number): string {
    let n = this.names.get(rec)
    if (n === undefined) {
      n = this.heap.str(this.heap.u32at(rec + G.name)) ?? ''
      this.names.set(rec, n)
    }
    return n
  }

  /**
   * A cheap summary of every non-default setting (record, source, value word): when it is unchanged
   * since a session's settings were installed, the session changed none of them.
   */
  fingerprint(): number[] {
    const out: number[] = []
    this.fingerprintWords((w) => {
      out.push(w)
      return true
    })
    return out
  }

  /** Whether fingerprint() would equal `fp`, without building it (a switch between sessions asks each time). */
  fingerprintIs(fp: readonly number[]): boolean {
    let i = 0
    return this.fingerprintWords((w) => fp[i++] === w) && i === fp.length
  }

  /** The fingerprint's words in order, each handed to `emit`; stops (false) when `emit` says false. */
  private fingerprintWords(emit: (w: number) => boolean): boolean {
    const h = this.heap
    h.refresh()
    const m = h.i32
    for (let n = m[(this.head + 4) >> 2]!, k = 0; n !== this.head && k < 100000; k++) {
      const rec = n - G.nondefLink
      n = m[(n + 4) >> 2]!
      if (this.skip.has(rec)) continue
      const v = m[(rec + G.variable) >> 2]!
      const type = m[(rec + G.vartype) >> 2]!
      if (!emit(rec) || !emit(m[(rec + G.source) >> 2]!)) return false
      if (type === T.BOOL) {
        if (!emit(h.u8[v]!)) return false
      } else if (type === T.REAL) {
        if (!emit(m[v >> 2]!) || !emit(m[(v + 4) >> 2]!)) return false
      } else if (!emit(m[v >> 2]!)) return false // int, enum: the value; string: the pointer (a new SET allocates a new one)
    }
    return true
  }

  /** The settings the installed session changed with SET (source session), as text set_config accepts. */
  captureSet(): Map<string, string> {
    const h = this.heap
    const M = h.M
    const out = new Map<string, string>()
    for (const rec of this.records()) {
      if (this.skip.has(rec) || h.i32at(rec + G.source) !== SRC.SESSION) continue
      const name = this.nameOf(rec)
      const type = h.i32at(rec + G.vartype)
      let value: string | null
      if (type === T.REAL) value = String(h.f64at(h.u32at(rec + G.variable)))
      else {
        const r = this.elog.tryCatch(() => h.str(M._GetConfigOption(h.u32at(rec + G.name), 1, 0) as number))
        value = r.ok ? r.value : null
      }
      if (value !== null) out.set(name.toLowerCase(), value)
    }
    return out
  }

  private lowerResetSource(name: string, source: number): void {
    const rec = this.find(name)
    if (rec && this.heap.i32at(rec + G.resetSource) > source) this.heap.setU32(rec + G.resetSource, source)
  }

  /** Whether the setting is reported to clients (ParameterStatus). */
  reported(name: string): boolean {
    const rec = this.find(name)
    return rec !== 0 && (this.heap.i32at(rec + G.flags) & GUC_REPORT) !== 0
  }

  /** The record's own spelling of a setting's name (for placeholders: as given). */
  canonical(name: string): string {
    const rec = this.find(name)
    return rec ? this.nameOf(rec) : name
  }

  /**
   * set_config_option(name, value, context, source, GUC_ACTION_SET, true, ERROR): null when done, or the
   * error PostgreSQL raised. `value` null means the reset value (or the boot value with source default).
   */
  set(name: string, value: string | null, source: number, context = PGC_SU_BACKEND): PgError | null {
    const h = this.heap
    const M = h.M
    const np = h.strdupPermanent(name)
    const vp = value === null ? 0 : h.strdupPermanent(value)
    try {
      const r = this.elog.tryCatch(() =>
        M._set_config_option(np, vp, context, source, GUC_ACTION_SET, 1, ELEVEL.ERROR, 0),
      )
      return r.ok ? null : r.error
    } finally {
      M._free(np)
      if (vp) M._free(vp)
    }
  }

  /**
   * A session's start-up or stored setting, checked with the privileges PostgreSQL would use
   * (postinit.c process_startup_options, ProcessGUCArray); `asSet`: as a plain SET (undone on rollback).
   */
  apply(e: ResetEntry, superuser: boolean, asSet = false): PgError | null {
    const context =
      e.source === SRC.CLIENT
        ? superuser
          ? PGC_SU_BACKEND
          : PGC_BACKEND
        : superuser
          ? PGC_SUSET
          : PGC_USERSET
    return this.set(e.name, e.value, asSet ? SRC.SESSION : e.source, context)
  }

  private effective(s: SettingsState, key: string): { reset: Baseline; current: string | null } {
    const r = s.reset.get(key)
    const reset = r
      ? { value: r.value, source: r.source }
      : (this.baseline.get(key) ?? { value: null, source: 0 })
    const set = s.set.get(key)
    return { reset, current: set ?? null }
  }

  /**
   * Make the backend's settings those of `to`, given that they are those of `from` now. Returns the names
   * whose installation failed (the caller falls back to SQL for them) and whether a reported setting
   * changed (its ParameterStatus must then be consumed before the session's own output).
   */
  install(
    from: SettingsState,
    to: SettingsState,
  ): { failed: Array<[string, string]>; reportedChanged: boolean } {
    const failed: Array<[string, string]> = []
    let reportedChanged = false
    const keys = new Set([...from.reset.keys(), ...from.set.keys(), ...to.reset.keys(), ...to.set.keys()])
    for (const key of keys) {
      const a = this.effective(from, key)
      const b = this.effective(to, key)
      if (a.current === b.current && a.reset.value === b.reset.value && a.reset.source === b.reset.source)
        continue
      const name = to.reset.get(key)?.name ?? from.reset.get(key)?.name ?? this.canonical(key)
      // the reset value first (makeDefault: also when a higher source holds the current value), then the
      // current value: the session's SET, or RESET to the reset value just installed
      const sameReset = a.reset.value === b.reset.value && a.reset.source === b.reset.source
      // set_config_option only replaces a reset value of the same or a lower source: make way for it
      if (!sameReset) this.lowerResetSource(name, b.reset.source)
      const e1 = sameReset ? null : this.set(name, b.reset.value, b.reset.source)
      const e2 = this.set(name, b.current, SRC.SESSION)
      if ((e1 || e2) && b.current !== null) failed.push([name, b.current])
      else if (e1 && b.reset.value !== null) failed.push([name, b.reset.value])
      if (!reportedChanged && this.reported(name)) reportedChanged = true
    }
    return { failed, reportedChanged }
  }

  /**
   * Beside another session's transaction: give the backend `to`'s effective values as plain SETs (undone
   * with the savepoint the work runs in; reset values stay the holder's).
   */
  overlay(from: SettingsState, to: SettingsState): { reportedChanged: boolean } {
    let reportedChanged = false
    const keys = new Set([...from.reset.keys(), ...from.set.keys(), ...to.reset.keys(), ...to.set.keys()])
    for (const key of keys) {
      const a = this.effective(from, key)
      const b = this.effective(to, key)
      const va = a.current ?? a.reset.value
      const vb = b.current ?? b.reset.value
      if (va === vb) continue
      const name = to.reset.get(key)?.name ?? from.reset.get(key)?.name ?? this.canonical(key)
      this.set(name, vb, SRC.SESSION)
      if (!reportedChanged && this.reported(name)) reportedChanged = true
    }
    return { reportedChanged }
  }
}

/** A stable text of a session's settings: sessions with equal keys switch without touching settings. */
export function settingsKey(s: SettingsState): string {
  if (s.reset.size === 0 && s.set.size === 0) return ''
  const parts: string[] = []
  for (const [k, e] of s.reset) parts.push(`r${k}\u0000${e.source}\u0000${e.value}`)
  for (const [k, v] of [...s.set].sort((x, y) => (x[0] < y[0] ? -1 : 1))) parts.push(`s${k}\u0000${v}`)
  return parts.join('\u0001')
}
