// The Python environment of a data directory: a virtual environment layered on the Python pyglite embeds
// (made with `python3 -m venv` on first need), or one given with --python-venv (checked at start). Also the
// snapshot an install works against: a failed or interrupted install puts the previous state back.
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The data directory's own environment, and the files beside it. */
export const VENV_DIR = 'python-env'
/** marker of a package operation in progress: its snapshot is put back if the server stops first */
export const CHANGING_FILE = 'python-env.changing'
/** the status and log of package operations (read by the pyglite.installs view) */
export const LOG_FILE = 'python-installs.json'

export interface EnvironmentSettings {
  dataDir: string
  /** --python-venv: an existing virtual environment to use instead of <dataDir>/python-env */
  venv?: string | undefined
  /** --python-system-site-packages: the embedding Python's own site-packages stay visible */
  systemSitePackages: boolean
}

/** What the engine's Python needs to know (python/host.ts passes it to pyglite_host.init). */
export interface PythonEnvironment {
  /** the virtual environment's root */
  venv: string
  /** its site-packages (may not exist yet: the data directory's environment is made on first need); null: computed by Python */
  site: string | null
  systemSitePackages: boolean
  /** the operations log (pyglite.installs) */
  log: string
}

export class EnvironmentError extends Error {}

export interface Distribution {
  /** as in its metadata */
  name: string
  version: string
  /** its .dist-info directory's name */
  dir: string
}

/** `python3.X`, the executable of the Python pyglite embeds (Debian's, the one native/ builds against). */
export function basePython(version: string): string {
  const [major, minor] = version.split('.')
  return `/usr/bin/python${major}.${minor}`
}

export class Environment {
  readonly venv: string
  readonly own: boolean
  readonly logFile: string
  private readonly marker: string
  /** the embedded Python's version (engine.python), known once the engine has started */
  private version = ''
  /** site-packages: reported by a --python-venv's interpreter, or computed for ours once the version is known */
  private siteDir: string | null = null
  private externalVersion = ''

  constructor(private readonly settings: EnvironmentSettings) {
    this.own = !settings.venv
    this.venv = settings.venv ? path.resolve(settings.venv) : path.join(settings.dataDir, VENV_DIR)
    this.logFile = path.join(settings.dataDir, LOG_FILE)
    this.marker = path.join(settings.dataDir, CHANGING_FILE)
  }

  get python(): string {
    return path.join(this.venv, 'bin', 'python')
  }

  get site(): string {
    if (this.siteDir === null) throw new Error('the Python environment is not attached to the engine yet')
    return this.siteDir
  }

  /** Where the state before an operation is kept while it runs (hard links: cheap, never written through). */
  get snapshot(): string {
    return `${this.venv}.previous`
  }

  /** For the engine's Python (site null: pyglite_host computes <venv>/lib/pythonX.Y/site-packages). */
  describe(): PythonEnvironment {
    return {
      venv: this.venv,
      site: this.siteDir,
      systemSitePackages: this.settings.systemSitePackages,
      log: this.logFile,
    }
  }

  /**
   * At start, before the engine: finish what a stopped server left (an interrupted operation is undone)
   * and ask a --python-venv's interpreter for its version and site-packages. Returns the description of
   * an operation that was undone, if any.
   */
  prepare(): string | null {
    let recovered: string | null = null
    if (fs.existsSync(this.marker)) {
      if (fs.existsSync(this.snapshot)) {
        fs.rmSync(this.venv, { recursive: true, force: true })
        fs.renameSync(this.snapshot, this.venv)
      }
      recovered = fs.readFileSync(this.marker, 'utf8').trim()
      fs.rmSync(this.marker)
    } else fs.rmSync(this.snapshot, { recursive: true, force: true })
    fs.rmSync(`${this.venv}.failed`, { recursive: true, force: true })
    if (!this.own) this.inspectExternal()
    return recovered
  }

  /**
   * Once the engine runs Python `version`: a --python-venv must be of the same X.Y (C extensions are built
   * for one), and our own environment is repaired after `pyglite restore` (backups copy files, not the
   * interpreter's symlinks) and follows --python-system-site-packages.
   */
  attach(version: string): void {
    this.version = version
    const mm = (v: string) => v.split('.').slice(0, 2).join('.')
    if (!this.own) {
      if (mm(this.externalVersion) !== mm(version))
        throw new EnvironmentError(
          `--python-venv: "${this.venv}" has Python ${this.externalVersion}, but pyglite embeds Python ${version}`,
        )
      return
    }
    this.siteDir = path.join(this.venv, 'lib', `python${mm(version)}`, 'site-packages')
    if (this.exists()) this.repair()
  }

  exists(): boolean {
    return fs.existsSync(path.join(this.venv, 'pyvenv.cfg'))
  }

  private inspectExternal(): void {
    const dir = this.venv
    if (!fs.existsSync(path.join(dir, 'pyvenv.cfg')))
      throw new EnvironmentError(`--python-venv: "${dir}" is not a virtual environment (no pyvenv.cfg)`)
    let out: string
    try {
      out = execFileSync(
        this.python,
        [
          '-I',
          '-c',
          "import sys, sysconfig; print('%d.%d.%d' % sys.version_info[:3]); print(sysconfig.get_paths()['purelib'])",
        ],
        { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    } catch (e) {
      throw new EnvironmentError(
        `--python-venv: cannot run ${this.python}: ${(e as Error).message.split('\n')[0]}`,
      )
    }
    const [version = '', purelib = ''] = out.trim().split('\n')
    this.externalVersion = version
    this.siteDir = purelib
  }

  /** Our environment as the flags want it: interpreter links present, system site-packages on or off. */
  private repair(): void {
    const cfg = path.join(this.venv, 'pyvenv.cfg')
    const want = `include-system-site-packages = ${this.settings.systemSitePackages}`
    const text = fs.readFileSync(cfg, 'utf8')
    const fixed = text.replace(/^include-system-site-packages\s*=.*$/m, want)
    if (fixed !== text) fs.writeFileSync(cfg, fixed)
    if (!fs.existsSync(this.python)) {
      try {
        execFileSync(basePython(this.version), this.venvArgs(['--upgrade', '--without-pip']), {
          stdio: 'pipe',
        })
      } catch (e) {
        throw new EnvironmentError(`could not repair the Python environment "${this.venv}": ${failure(e)}`)
      }
    }
  }

  private venvArgs(extra: string[]): string[] {
    const args = ['-I', '-m', 'venv', ...extra]
    if (this.settings.systemSitePackages) args.push('--system-site-packages')
    return [...args, this.venv]
  }

  /** Make the environment (pip and setuptools come from the embedded Python's ensurepip: no network). */
  async create(): Promise<void> {
    await fs.promises.rm(this.venv, { recursive: true, force: true })
    try {
      await run(basePython(this.version), this.venvArgs([]), { timeout: 300_000 })
    } catch (e) {
      await fs.promises.rm(this.venv, { recursive: true, force: true })
      throw new EnvironmentError(`could not create the Python environment in "${this.venv}": ${failure(e)}`)
    }
  }

  /**
   * Keep the current state aside (hard links) before an operation; `what` describes it for a restart. The
   * marker is written once the snapshot is whole: a start that finds a marker puts the snapshot back, one
   * that finds only a snapshot (a stop, or a full disk, in the middle of the copy) drops it. Nothing is
   * left behind when this fails.
   */
  async begin(what: string): Promise<void> {
    await fs.promises.rm(this.snapshot, { recursive: true, force: true })
    try {
      await run('cp', ['-al', this.venv, this.snapshot])
      fs.writeFileSync(this.marker, `${what}\n`)
    } catch (e) {
      fs.rmSync(this.marker, { force: true })
      await fs.promises.rm(this.snapshot, { recursive: true, force: true })
      throw e
    }
  }

  /** The operation failed: the state before it comes back. */
  async rollback(): Promise<void> {
    if (fs.existsSync(this.snapshot)) {
      const failed = `${this.venv}.failed`
      await fs.promises.rm(failed, { recursive: true, force: true })
      fs.renameSync(this.venv, failed) // two renames: the environment is never missing for long
      fs.renameSync(this.snapshot, this.venv)
      await fs.promises.rm(failed, { recursive: true, force: true })
    }
    fs.rmSync(this.marker, { force: true })
  }

  /** site-packages as it was before the running operation (inside the snapshot). */
  get snapshotSite(): string {
    return path.join(this.snapshot, path.relative(this.venv, this.site))
  }

  /** The operation succeeded: the snapshot goes. */
  async commit(): Promise<void> {
    fs.rmSync(this.marker, { force: true })
    await fs.promises.rm(this.snapshot, { recursive: true, force: true })
  }

  /** Installed distributions by normalised name, from the .dist-info directories. */
  distributions(): Map<string, Distribution> {
    const out = new Map<string, Distribution>()
    const site = this.site
    if (!fs.existsSync(site)) return out
    for (const d of fs.readdirSync(site)) {
      if (!d.endsWith('.dist-info')) continue
      let meta: string
      try {
        meta = fs.readFileSync(path.join(site, d, 'METADATA'), 'utf8')
      } catch {
        continue
      }
      const name = /^Name:\s*(.+)$/m.exec(meta)?.[1]?.trim()
      const version = /^Version:\s*(.+)$/m.exec(meta)?.[1]?.trim()
      if (name && version) out.set(normalizeName(name), { name, version, dir: d })
    }
    return out
  }
}

/** PEP 503 normalisation: pip and the index compare names so. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

function failure(e: unknown): string {
  const err = e as { stderr?: string | Buffer; message: string }
  const text = String(err.stderr ?? '').trim() || err.message
  return text.split('\n').pop() ?? text
}
