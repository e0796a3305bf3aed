// Package commands on the main thread: CALL pyglite.install / uninstall / sync. One operation at a time per
// server (a second one is refused, 55006); pip runs in a child process against a snapshot of the
// environment, its lines go to the caller as NOTICEs and to pyglite.installs; failure, cancel or a broken
// dependency set put the snapshot back. Then the engine's Python forgets its import caches and the
// database's manifest is rewritten. docs/packages.md.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Engine, EngineError } from '../engine/client.js'
import { logger } from '../util/log.js'
import { type Distribution, type Environment, normalizeName } from './environment.js'
import { InstallLog, type LogEntry } from './log.js'
import { type IndexSettings, indexOptions, PipRun } from './pip.js'
import { SCHEMA_SQL } from './schema.js'
import type { PackageCommand } from './statements.js'

const log = logger('packages')

export interface PackageClient {
  readonly sid: number
  readonly database: string
  readonly userName: string
}

type Fields = Record<string, string>
export type CommandReply = { ok: true; tag: string; notices: Fields[] } | { ok: false; error: Fields }

class Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: Fields = {},
  ) {
    super(message)
  }
}

/** What pip itself brings into a virtual environment: not part of what a database needs (pip freeze's list). */
const TOOLING = new Set(['pip', 'setuptools', 'wheel', 'distribute'])
/** A requirement as pip reads one (PEP 508 / a path or URL): no options, no line breaks. */
const BAD_REQUIREMENT = /^\s*-|[\r\n\0]/
const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/
const lit = (s: string) => `'${s.replaceAll("'", "''")}'`

interface Running {
  sid: number
  entry: LogEntry
  pip: PipRun | null
  canceled: boolean
}

export class PackageManager {
  private running: Running | null = null
  private readonly log: InstallLog

  constructor(
    private readonly env: Environment,
    private readonly engine: Engine,
    private readonly index: IndexSettings,
    private readonly isSuperuser: (role: string) => Promise<boolean>,
  ) {
    this.log = new InstallLog(env.logFile)
  }

  /** Run a package command for a client; `notice` streams progress (null: notices come with the reply). */
  async execute(
    c: PackageClient,
    cmd: PackageCommand,
    notice: ((f: Fields) => void) | null,
  ): Promise<CommandReply> {
    const notices: Fields[] = []
    const say = (message: string, extra: Fields = {}) => {
      const f = { S: 'NOTICE', V: 'NOTICE', C: '00000', M: message, ...extra }
      if (notice) notice(f)
      else notices.push(f)
    }
    try {
      await this.run(c, cmd, say)
      return { ok: true, tag: 'CALL', notices }
    } catch (e) {
      if (e instanceof Failure)
        return { ok: false, error: { S: 'ERROR', V: 'ERROR', C: e.code, M: e.message, ...e.extra } }
      log.error({ err: e }, `package ${cmd.kind} failed`)
      return { ok: false, error: { S: 'ERROR', V: 'ERROR', C: 'XX000', M: (e as Error).message } }
    }
  }

  /** CancelRequest for session `sid`: ends its pip run (the environment is put back). */
  cancel(sid: number): boolean {
    const r = this.running
    if (!r || r.sid !== sid) return false
    r.canceled = true
    r.pip?.cancel()
    return true
  }

  /** Server shutdown: a running operation is cancelled and undone before the server exits. */
  async close(): Promise<void> {
    const r = this.running
    if (!r) return
    r.canceled = true
    r.pip?.cancel()
    while (this.running) await new Promise((res) => setTimeout(res, 20))
  }

  private async run(c: PackageClient, cmd: PackageCommand, say: (m: string, extra?: Fields) => void) {
    const name = `pyglite.${cmd.kind}`
    if (!(await this.isSuperuser(c.userName)))
      throw new Failure('42501', `permission denied for procedure ${name}`, {
        D: 'Only superusers may install or remove Python packages: installing one runs its code as the server.',
      })
    const args = cmd.kind === 'install' ? cmd.requirements : cmd.kind === 'uninstall' ? cmd.names : []
    for (const a of args) {
      if (cmd.kind === 'install' && (BAD_REQUIREMENT.test(a) || !a.trim()))
        throw new Failure('22P02', `invalid requirement: "${a}"`, {
          H: "Give a requirement as pip reads it: 'name', 'name==1.0', 'name>=1,<2', or the path of a wheel or sdist.",
        })
      if (cmd.kind === 'uninstall' && !NAME.test(a))
        throw new Failure('22023', `invalid package name: "${a}"`)
    }
    if (this.running) {
      const o = this.running.entry
      throw new Failure('55006', 'another package operation is running', {
        D: `${o.action} ${o.arguments.join(', ')} started at ${o.started} by "${o.username}" in database "${o.database}".`,
        H: 'Wait for it to finish (SELECT * FROM pyglite.installs), then try again.',
      })
    }
    const entry = this.log.start({
      action: cmd.kind,
      arguments: args,
      database: c.database,
      username: c.userName,
    })
    const running: Running = { sid: c.sid, entry, pip: null, canceled: false }
    this.running = running
    /** between begin and commit: a failure puts the snapshot back (runPip does it for pip's own failures) */
    let undo = false
    try {
      await this.engine.queryRows(c.database, SCHEMA_SQL)
      if (cmd.kind === 'sync') {
        const rows = await this.engine.query<{ name: string; version: string }>(
          c.database,
          'SELECT name, version FROM pyglite.manifest ORDER BY lower(name)',
        )
        if (rows.length === 0) say('the manifest pyglite.manifest is empty: nothing to install')
        entry.arguments = rows.map((r) => `${r.name}==${r.version}`)
        if (rows.length === 0) return this.log.finish(entry, 'succeeded')
      }
      if (!this.env.exists()) {
        if (cmd.kind === 'uninstall') throw notInstalled(args[0]!)
        say(`creating the Python environment in ${this.env.venv}`)
        await this.env.create()
      }
      const before = this.env.distributions()
      if (cmd.kind === 'uninstall') {
        for (const a of args) if (!before.has(normalizeName(a))) throw notInstalled(a)
        if (args.some((a) => normalizeName(a) === 'pip'))
          throw new Failure('0A000', 'pip cannot be uninstalled: pyglite runs it to manage the environment')
      }
      if (running.canceled) throw canceled()
      await this.env.begin(`${cmd.kind} ${entry.arguments.join(' ')}`)
      undo = true
      const requested = await this.runPip(running, cmd, entry.arguments, say)
      const after = this.env.distributions()
      const changed = changedModules(before, after, this.env.snapshotSite, this.env.site)
      undo = false
      await this.env.commit()
      const stale = await this.refresh(c.database, changed)
      if (stale.length > 0)
        say(
          `already imported modules keep their previous code until the server restarts: ${stale.join(', ')}`,
        )
      await this.writeManifest(c.database, cmd, after, requested)
      this.log.finish(entry, 'succeeded')
    } catch (e) {
      if (undo) await this.env.rollback()
      const f = asFailure(cmd.kind, entry.arguments, e, this.env.venv)
      this.log.finish(entry, f?.code === '57014' ? 'canceled' : 'failed', (f ?? (e as Error)).message)
      throw f ?? e
    } finally {
      this.running = null
    }
  }

  /** pip install / uninstall on the snapshot-protected environment; the requested names and their specs. */
  private async runPip(
    r: Running,
    cmd: PackageCommand,
    args: string[],
    say: (m: string) => void,
  ): Promise<Map<string, string>> {
    const pip = new PipRun(this.env.python, (line) => {
      this.log.line(r.entry, line)
      say(`pip: ${line}`)
    })
    r.pip = pip
    if (r.canceled) pip.cancel()
    const install = cmd.kind !== 'uninstall'
    const result = await pip.run(
      install
        ? ['install', '--no-input', '--no-warn-script-location', ...indexOptions(this.index), '--', ...args]
        : ['uninstall', '--yes', '--', ...args],
      install,
    )
    r.pip = null
    const broken = /dependency resolver does not currently take into account[\s\S]*/.exec(result.output)
    if (result.canceled || result.code !== 0 || broken) {
      await this.env.rollback()
      if (result.canceled) throw canceled()
      if (broken)
        throw new Failure('22023', `the requested versions conflict with installed packages`, {
          D: broken[0].split('\n').slice(1).join('\n').trim(),
          H: 'The environment was left as it was. Install the packages together, or upgrade the dependent package too.',
        })
      throw pipFailure(cmd.kind, args, result.output, this.env.venv)
    }
    const requested = new Map<string, string>()
    for (const i of result.report?.install ?? [])
      if (i.requested) requested.set(normalizeName(i.metadata.name), i.metadata.version)
    return requested
  }

  /** The engine's Python: import caches dropped (new files are seen); which changed modules it had imported. */
  private async refresh(db: string, modules: string[]): Promise<string[]> {
    const arr = `ARRAY[${modules.map(lit).join(',')}]::text[]`
    const r = await this.engine.queryRows(db, `SELECT pyglite.refresh_imports(${arr})`)
    const v = r.rows[0]?.[0]
    return v && v !== '{}' ? v.slice(1, -1).split(',') : []
  }

  /** pyglite.manifest in this database becomes the environment as it now is (without pip's own tooling). */
  private async writeManifest(
    db: string,
    cmd: PackageCommand,
    after: Map<string, Distribution>,
    requested: Map<string, string>,
  ): Promise<void> {
    // named in this install (also when already satisfied, so pip's report has nothing for it), or a path
    // or URL pip's report says it installed as requested
    const given = new Map<string, string>()
    if (cmd.kind === 'install') {
      for (const spec of cmd.requirements) {
        const n = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@]|$)/.exec(spec)?.[1]
        if (n && after.has(normalizeName(n))) given.set(normalizeName(n), spec.trim())
      }
      for (const k of requested.keys())
        if (!given.has(k)) given.set(k, `${after.get(k)?.name}==${requested.get(k)}`)
    }
    const rows = [...after.entries()].filter(([k]) => !TOOLING.has(k))
    const values = rows.map(([k, d]) => {
      const req = given.get(k) ?? null
      return `(${lit(d.name)}, ${lit(d.version)}, ${given.has(k)}, ${req === null ? 'NULL' : lit(req)})`
    })
    const keep = rows.map(([, d]) => lit(d.name))
    await this.engine.queryRows(
      db,
      `DELETE FROM pyglite.manifest${keep.length ? ` WHERE name NOT IN (${keep.join(',')})` : ''};
       ${
         values.length
           ? `INSERT INTO pyglite.manifest AS m (name, version, requested, requirement) VALUES ${values.join(',')}
       ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version,
         requested = m.requested OR EXCLUDED.requested,
         requirement = coalesce(EXCLUDED.requirement, m.requirement),
         installed_at = CASE WHEN m.version = EXCLUDED.version THEN m.installed_at ELSE now() END`
           : 'SELECT 1'
       }`,
    )
  }
}

function notInstalled(name: string): Failure {
  return new Failure('42704', `Python package "${name}" is not installed`, {
    H: 'SELECT name, version FROM pyglite.packages lists what is installed.',
  })
}

function canceled(): Failure {
  return new Failure('57014', 'canceling statement due to user request', {
    D: 'The Python environment was left as it was before the command.',
  })
}

const LEFT_AS_IT_WAS = 'The Python environment was left as it was.'
const NO_SPACE = /No space left on device|ENOSPC/

/**
 * A failure of the operation's own steps as the client sees it: a Failure as it is, the engine's errors
 * (its internal statements) with their SQLSTATE, a full disk — the log, the snapshot, a temporary file,
 * wherever it struck — as 53100 (PostgreSQL's errcode_for_file_access maps ENOSPC to disk_full). Other
 * errors: null (an internal error).
 */
function asFailure(kind: string, args: string[], e: unknown, venv: string): Failure | null {
  if (e instanceof Failure) return e
  if (e instanceof EngineError && e.code) {
    const { S: _s, V: _v, C: _c, M: _m, ...extra } = e.fields ?? {}
    return new Failure(e.code, e.message, extra)
  }
  const text = String((e as { stderr?: unknown }).stderr ?? '') + String((e as Error).message ?? '')
  if (NO_SPACE.test(text))
    return new Failure(
      '53100',
      `could not ${kind} ${args.map((a) => `"${a}"`).join(', ')}: No space left on device`,
      {
        D: text.trim().split('\n').slice(-5).join('\n'),
        H: `${LEFT_AS_IT_WAS} Free space in the filesystem of "${venv}" and try again.`,
      },
    )
  return null
}

/** An ERROR from pip's output, with the SQLSTATE that says what kind of failure it was. */
function pipFailure(kind: string, args: string[], output: string, venv: string): Failure {
  const errors = output
    .split('\n')
    .filter((l) => l.startsWith('ERROR: '))
    .map((l) => l.slice(7).trim())
  const first = errors[0] ?? output.trim().split('\n').pop() ?? 'pip failed'
  const code = /No space left on device/.test(output)
    ? '53100'
    : /looks like a path|does not exist/.test(output) && /Invalid requirement|Could not open/.test(output)
      ? '58P01'
      : /Invalid requirement|Invalid wheel filename/.test(first)
        ? '22P02'
        : /No matching distribution|Could not find a version/.test(output)
          ? '42704'
          : /not a supported wheel|conflicting dependencies|ResolutionImpossible|Cannot install|Double requirement/.test(
                output,
              )
            ? '22023'
            : '38000'
  const tail = output.trim().split('\n').slice(-25).join('\n')
  return new Failure(code, `could not ${kind} ${args.map((a) => `"${a}"`).join(', ')}: ${first}`, {
    D: tail,
    H:
      code === '53100'
        ? `${LEFT_AS_IT_WAS} Free space in the filesystem of "${venv}" (and of pip's temporary directory, ${os.tmpdir()}) and try again.`
        : `${LEFT_AS_IT_WAS} Index and wheelhouse settings: --python-index-url, --python-find-links, --python-no-index (docs/packages.md).`,
  })
}

/** Top-level module names of the distributions that were added, removed or changed version. */
function changedModules(
  before: Map<string, Distribution>,
  after: Map<string, Distribution>,
  beforeSite: string,
  afterSite: string,
): string[] {
  const out = new Set<string>()
  for (const [k, d] of before)
    if (after.get(k)?.version !== d.version) for (const m of topLevel(d, beforeSite)) out.add(m)
  for (const [k, d] of after)
    if (before.get(k)?.version !== d.version) for (const m of topLevel(d, afterSite)) out.add(m)
  return [...out].sort()
}

/** Top-level modules of a distribution from its RECORD (unreadable: its name as a module name). */
function topLevel(d: Distribution, site: string): string[] {
  let record: string
  try {
    record = fs.readFileSync(path.join(site, d.dir, 'RECORD'), 'utf8')
  } catch {
    return [d.name.replace(/[-.]/g, '_').toLowerCase()]
  }
  const out = new Set<string>()
  for (const line of record.split('\n')) {
    const p = line.split(',')[0] ?? ''
    const top = p.split('/')[0] ?? ''
    if (!top || top.startsWith('..') || top === '__pycache__' || /\.(dist-info|data|pth)$/.test(top)) continue
    if (p.includes('/')) out.add(top)
    else if (top.endsWith('.py')) out.add(top.slice(0, -3))
    else if (top.endsWith('.so')) out.add(top.split('.')[0]!)
  }
  return [...out]
}
