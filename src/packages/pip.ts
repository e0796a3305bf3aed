// pip in a child process: the environment's own `python -m pip`, in a process group of its own (a build
// runs further children), output read line by line as progress, and a cancel that ends the whole group.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Index and wheelhouse settings from the server's flags; pip's own PIP_* variables still apply under them. */
export interface IndexSettings {
  indexUrl?: string | undefined
  extraIndexUrl?: string[] | undefined
  findLinks?: string[] | undefined
  noIndex: boolean
}

export interface PipResult {
  code: number | null
  /** ended by cancel() */
  canceled: boolean
  output: string
  /** pip --report's JSON (install only), when pip wrote it */
  report: PipReport | null
}

export interface PipReport {
  install?: Array<{ requested: boolean; metadata: { name: string; version: string } }>
}

/** Command-line options for the settings (they take precedence over PIP_* variables and pip.conf). */
export function indexOptions(s: IndexSettings): string[] {
  const out: string[] = []
  if (s.noIndex) out.push('--no-index')
  if (s.indexUrl) out.push('--index-url', s.indexUrl)
  for (const u of s.extraIndexUrl ?? []) out.push('--extra-index-url', u)
  for (const f of s.findLinks ?? []) out.push('--find-links', f)
  return out
}

/** The environment pip runs with: the server's, minus what would point it at another Python or site. */
function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONNOUSERSITE: '1', PIP_NO_INPUT: '1' }
  for (const k of [
    'PYTHONPATH',
    'PYTHONHOME',
    'PYTHONSTARTUP',
    'PIP_USER',
    'PIP_TARGET',
    'PIP_PREFIX',
    'VIRTUAL_ENV',
  ])
    delete env[k]
  env.PIP_DISABLE_PIP_VERSION_CHECK = '1'
  return env
}

/**
 * `python -m pip`, but pip dies with the server: PR_SET_PDEATHSIG (prctl(2)) sends it SIGKILL when the
 * server's process goes, even by kill -9, so no pip run outlives the server and writes into an environment
 * the next start is putting back (a build it started may run on, but only pip writes the environment).
 */
const PIP_MAIN = `import ctypes, os, runpy, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
if os.getppid() == 1:
    sys.exit('pyglite: the server is gone')
sys.argv[0] = 'pip'
runpy.run_module('pip', run_name='__main__', alter_sys=True)`

export class PipRun {
  private child: ReturnType<typeof spawn> | null = null
  private canceled = false
  private killTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly python: string,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Run `python -m pip <args>`; with `report`, pip writes its install report and it is returned. */
  async run(args: string[], report = false): Promise<PipResult> {
    const tmp = report ? fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-pip-')) : null
    const reportFile = tmp ? path.join(tmp, 'report.json') : null
    const full = ['-I', '-c', PIP_MAIN, ...args.slice(0, 1)]
    if (args[0] === 'install') full.push('--progress-bar', 'off')
    if (reportFile) full.push('--report', reportFile)
    full.push(...args.slice(1))
    let output = ''
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        if (this.canceled) return resolve(null)
        const child = spawn(this.python, full, {
          env: pipEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true, // its own process group: cancel ends pip and the builds it started
        })
        this.child = child
        const lines = (stream: NodeJS.ReadableStream | null) => {
          let pending = ''
          stream?.setEncoding('utf8')
          stream?.on('data', (chunk: string) => {
            output += chunk
            pending += chunk
            const parts = pending.split(/\r?\n|\r/)
            pending = parts.pop() ?? ''
            for (const l of parts) if (l.trim()) this.onLine(l.trim())
          })
          stream?.on('end', () => {
            if (pending.trim()) this.onLine(pending.trim())
          })
        }
        lines(child.stdout)
        lines(child.stderr)
        child.once('error', reject)
        child.once('close', (c) => resolve(c))
      })
      let parsed: PipReport | null = null
      if (reportFile && fs.existsSync(reportFile))
        parsed = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as PipReport
      return { code, canceled: this.canceled, output, report: parsed }
    } finally {
      clearTimeout(this.killTimer)
      this.child = null
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
    }
  }

  /** End pip and everything it started (SIGTERM to its process group, SIGKILL 3 s later). */
  cancel(): void {
    this.canceled = true
    const child = this.child
    if (!child?.pid) return
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig)
      } catch {
        // the group is gone already
      }
    }
    kill('SIGTERM')
    this.killTimer = setTimeout(() => kill('SIGKILL'), 3000)
  }
}
