// The log of package operations (the pyglite.installs view): one JSON file in the data directory, the
// running operation's progress included, rewritten atomically (a reader never sees half a file) at most a
// few times a second.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { logger } from '../util/log.js'

const log = logger('packages')

export interface LogEntry {
  id: number
  action: 'install' | 'uninstall' | 'sync'
  arguments: string[]
  state: 'running' | 'succeeded' | 'failed' | 'canceled'
  started: string
  finished: string | null
  database: string
  username: string
  /** the last line pip printed */
  progress: string | null
  error: string | null
  /** pip's output (its last KEEP_OUTPUT characters) */
  output: string
}

const KEEP_ENTRIES = 50
const KEEP_OUTPUT = 32_768
const WRITE_EVERY_MS = 250

export class InstallLog {
  private entries: LogEntry[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly file: string) {
    try {
      this.entries = JSON.parse(fs.readFileSync(file, 'utf8')) as LogEntry[]
    } catch {
      this.entries = []
    }
    // an entry still 'running' belongs to a server that stopped in the middle (its change was undone)
    let changed = false
    for (const e of this.entries)
      if (e.state === 'running') {
        e.state = 'failed'
        e.error = 'the server stopped during the operation; the environment was put back as it was before'
        e.finished ??= new Date().toISOString()
        changed = true
      }
    if (changed) this.write()
  }

  start(
    e: Omit<LogEntry, 'id' | 'state' | 'started' | 'finished' | 'progress' | 'error' | 'output'>,
  ): LogEntry {
    const entry: LogEntry = {
      ...e,
      id: (this.entries.at(-1)?.id ?? 0) + 1,
      state: 'running',
      started: new Date().toISOString(),
      finished: null,
      progress: null,
      error: null,
      output: '',
    }
    this.entries.push(entry)
    if (this.entries.length > KEEP_ENTRIES) this.entries.splice(0, this.entries.length - KEEP_ENTRIES)
    this.write()
    return entry
  }

  line(e: LogEntry, line: string): void {
    e.progress = line
    e.output = `${e.output}${line}\n`.slice(-KEEP_OUTPUT)
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.write()
    }, WRITE_EVERY_MS)
  }

  finish(e: LogEntry, state: LogEntry['state'], error: string | null = null): void {
    e.state = state
    e.error = error
    e.finished = new Date().toISOString()
    clearTimeout(this.timer)
    this.timer = undefined
    this.write()
  }

  /**
   * The file is a report, not the state: when it cannot be written (a full disk) the entries stay in memory,
   * the view shows the last file written, and the next write that succeeds catches up. A package command
   * fails for its own reasons, never because its progress could not be recorded.
   */
  private write(): void {
    const tmp = `${this.file}.${crypto.randomBytes(4).toString('hex')}.tmp`
    try {
      fs.writeFileSync(tmp, JSON.stringify(this.entries), { mode: 0o600 })
      fs.renameSync(tmp, this.file)
    } catch (e) {
      fs.rmSync(tmp, { force: true })
      log.warn({ err: e }, `could not write the package log "${this.file}"`)
    }
  }
}
