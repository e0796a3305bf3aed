// Configuration of the pyglite server: command-line flags over PYGLITE_* environment variables over
// defaults, validated into one typed object. Errors are one line each (the CLI exits 2).
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const AUTH_METHODS = ['scram-sha-256', 'md5', 'password', 'trust'] as const

/** Every setting: flag name, environment variable, help text. Order = help order. */
export const OPTIONS = {
  port: { env: 'PYGLITE_PORT', help: 'TCP port to listen on (0 picks a free one)', default: '5432' },
  host: { env: 'PYGLITE_HOST', help: 'address to listen on', default: '127.0.0.1' },
  'data-dir': {
    env: 'PYGLITE_DATA_DIR',
    help: 'data directory (created on first start)',
    default: './pyglite-data',
  },
  password: { env: 'PYGLITE_PASSWORD', help: 'set the password of the superuser "postgres" at start-up' },
  auth: {
    env: 'PYGLITE_AUTH',
    help: `authentication method: ${AUTH_METHODS.join(', ')}`,
    default: 'scram-sha-256',
  },
  'tls-cert': { env: 'PYGLITE_TLS_CERT', help: 'PEM certificate file: enables TLS (with --tls-key)' },
  'tls-key': { env: 'PYGLITE_TLS_KEY', help: 'PEM private key file' },
  'log-level': { env: 'PYGLITE_LOG_LEVEL', help: `log level: ${LOG_LEVELS.join(', ')}`, default: 'info' },
  'python-path': {
    env: 'PYGLITE_PYTHON_PATH',
    help: "extra directories for Python's sys.path (':'-separated; repeatable)",
  },
  'python-venv': {
    env: 'PYGLITE_PYTHON_VENV',
    help: 'use this existing virtual environment (same Python version) instead of <data-dir>/python-env',
  },
  'python-system-site-packages': {
    env: 'PYGLITE_PYTHON_SYSTEM_SITE_PACKAGES',
    help: "on: functions also see the system Python's packages (Debian's python3-*), after the environment's; off: only the environment's",
    default: 'on',
  },
  'python-index-url': {
    env: 'PYGLITE_PYTHON_INDEX_URL',
    help: 'package index for pyglite.install (pip --index-url)',
  },
  'python-extra-index-url': {
    env: 'PYGLITE_PYTHON_EXTRA_INDEX_URL',
    help: 'another package index (pip --extra-index-url; repeatable, space-separated)',
  },
  'python-find-links': {
    env: 'PYGLITE_PYTHON_FIND_LINKS',
    help: 'a wheelhouse directory or URL for pyglite.install (pip --find-links; repeatable, space-separated)',
  },
  'python-no-index': {
    env: 'PYGLITE_PYTHON_NO_INDEX',
    help: 'install only from --python-find-links, never from an index (pip --no-index)',
    flag: true,
  },
  fsync: {
    env: 'PYGLITE_FSYNC',
    help: 'flush each commit to stable storage: on, or off (faster; commits survive a crash of pyglite but not of the machine)',
    default: 'on',
  },
  'allow-remote-trust': {
    env: 'PYGLITE_ALLOW_REMOTE_TRUST',
    help: 'allow --auth trust on a non-loopback address (anyone who can connect is a superuser)',
    flag: true,
  },
} as const

type AuthMethod = (typeof AUTH_METHODS)[number]
type LogLevel = (typeof LOG_LEVELS)[number]

export interface Config {
  port: number
  host: string
  dataDir: string
  password?: string
  auth: AuthMethod
  tlsCert?: string
  tlsKey?: string
  logLevel: LogLevel
  pythonPath: string[]
  pythonVenv?: string
  pythonSystemSitePackages: boolean
  pythonIndexUrl?: string
  pythonExtraIndexUrl: string[]
  pythonFindLinks: string[]
  pythonNoIndex: boolean
  allowRemoteTrust: boolean
  fsync: boolean
}

// Checked by hand, not with a schema library: zod alone took ~50 ms to import, at every start of the server
// and of every `pyglite --help` (issue 17). Each check says what it expected, as the CLI prints it.
const nonEmpty = (flag: string, v: string | undefined): string | undefined => {
  if (v === '') throw new ConfigError(`--${flag}: must not be empty, got ""`)
  return v
}
const oneOf = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T => {
  if (v !== undefined && (allowed as readonly string[]).includes(v)) return v as T
  throw new ConfigError(
    `--${flag}: expected one of ${allowed.join(', ')}${v === undefined ? '' : `, got "${v}"`}`,
  )
}
const url = (flag: string, v: string): string => {
  try {
    new URL(v.trim())
    return v
  } catch {
    throw new ConfigError(`--${flag}: expected a URL, got "${v}"`)
  }
}

/** Flags that may be given more than once. */
const REPEATABLE = new Set(['python-path', 'python-extra-index-url', 'python-find-links'])

export type Parsed = { help: true } | { version: true } | { config: Config }

function onOff(flag: string, v: string): boolean {
  if (/^(on|true|yes|1)$/i.test(v)) return true
  if (/^(off|false|no|0)$/i.test(v)) return false
  throw new ConfigError(`--${flag}: expected on or off, got "${v}"`)
}

function bool(flag: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true
  if (/^(0|false|no|off|)$/i.test(v)) return false
  throw new ConfigError(`--${flag}: expected true or false, got "${v}"`)
}

/** Parse argv (without node and script) and an environment into a validated configuration. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    }
    for (const [name, o] of Object.entries(OPTIONS))
      options[name] = { type: 'flag' in o ? 'boolean' : 'string', multiple: REPEATABLE.has(name) }
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values
  } catch (e) {
    const m = /'(-[^' ]*)/.exec((e as Error).message)
    const code = (e as { code?: string }).code
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m)
      throw new ConfigError(`unknown option ${m[1]} (see --help)`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && m)
      throw new ConfigError(`${m[1]} needs a value (see --help)`)
    throw new ConfigError(`${(e as Error).message.split('\n')[0]} (see --help)`)
  }
  if (values.help) return { help: true }
  if (values.version) return { version: true }

  const get = (flag: keyof typeof OPTIONS): string | undefined => {
    const v = values[flag]
    if (typeof v === 'string') return v
    const e = env[OPTIONS[flag].env]
    if (e !== undefined) return e
    return 'default' in OPTIONS[flag] ? (OPTIONS[flag] as { default: string }).default : undefined
  }
  const pythonPath = [
    ...(env.PYGLITE_PYTHON_PATH ? env.PYGLITE_PYTHON_PATH.split(':') : []),
    ...((values['python-path'] as string[] | undefined) ?? []).flatMap((p) => p.split(':')),
  ].filter((p) => p !== '')
  const allowEnv = env.PYGLITE_ALLOW_REMOTE_TRUST
  /** a repeatable flag's values, else its variable's (space-separated, as pip's PIP_FIND_LINKS) */
  const list = (flag: 'python-extra-index-url' | 'python-find-links'): string[] => {
    const given = values[flag] as string[] | undefined
    if (given?.length) return given
    return (env[OPTIONS[flag].env] ?? '').split(/\s+/).filter((v) => v !== '')
  }
  const envFlag = (flag: 'python-no-index'): boolean => {
    const v = env[OPTIONS[flag].env]
    return values[flag] === true || (v !== undefined && bool(flag, v))
  }
  const port = get('port') ?? ''
  const portNumber = Number(port)
  if (!/^\s*\d+\s*$/.test(port) || portNumber > 65535)
    throw new ConfigError(`--port: expected an integer from 0 to 65535, got "${port}"`)
  const host = nonEmpty('host', get('host'))
  const dataDir = nonEmpty('data-dir', get('data-dir'))
  const password = nonEmpty('password', get('password'))
  const auth = oneOf('auth', get('auth'), AUTH_METHODS)
  const tlsCert = get('tls-cert')
  const tlsKey = get('tls-key')
  const logLevel = oneOf('log-level', get('log-level'), LOG_LEVELS)
  const pythonVenv = nonEmpty('python-venv', get('python-venv'))
  const pythonSystemSitePackages = onOff(
    'python-system-site-packages',
    get('python-system-site-packages') ?? 'on',
  )
  const indexUrl = get('python-index-url')
  const c: Config = {
    port: portNumber,
    host: host ?? '',
    dataDir: dataDir ?? '',
    password,
    auth,
    tlsCert,
    tlsKey,
    logLevel,
    pythonPath,
    pythonVenv,
    pythonSystemSitePackages,
    pythonIndexUrl: indexUrl === undefined ? undefined : url('python-index-url', indexUrl),
    pythonExtraIndexUrl: list('python-extra-index-url').map((u) => url('python-extra-index-url', u)),
    pythonFindLinks: list('python-find-links'),
    pythonNoIndex: envFlag('python-no-index'),
    allowRemoteTrust:
      values['allow-remote-trust'] === true ||
      (allowEnv !== undefined && bool('allow-remote-trust', allowEnv)),
    fsync: onOff('fsync', get('fsync') ?? 'on'),
  }
  c.dataDir = path.resolve(c.dataDir)
  c.pythonPath = c.pythonPath.map((p) => path.resolve(p))
  if (c.pythonVenv) c.pythonVenv = path.resolve(c.pythonVenv)
  // a wheelhouse is a directory (or a URL pip fetches); a missing one would only show at the first install
  c.pythonFindLinks = c.pythonFindLinks.map((f) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(f)) return f
    const dir = path.resolve(f)
    if (!fs.existsSync(dir)) throw new ConfigError(`--python-find-links: no such directory "${f}"`)
    return dir
  })
  if (!!c.tlsCert !== !!c.tlsKey) throw new ConfigError('--tls-cert and --tls-key must be given together')
  for (const [flag, file] of [
    ['tls-cert', c.tlsCert],
    ['tls-key', c.tlsKey],
  ] as const) {
    if (file && !isReadable(file)) throw new ConfigError(`--${flag}: cannot read "${file}"`)
  }
  if (c.auth === 'trust' && !isLoopback(c.host) && !c.allowRemoteTrust)
    throw new ConfigError(
      `--auth trust is only allowed on a loopback address (got --host ${c.host}); add --allow-remote-trust to insist`,
    )
  return { config: c }
}

function isReadable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

export function helpText(version: string): string {
  const lines = [
    `pyglite ${version} — a PostgreSQL-compatible server (PGlite, PostgreSQL 18.6) with PL/Python`,
    '',
    'Usage: pyglite [options]',
    '',
    'Options (each also an environment variable):',
  ]
  for (const [name, o] of Object.entries(OPTIONS)) {
    const arg = 'flag' in o ? '' : ' <value>'
    const dflt = 'default' in o ? ` (default ${o.default})` : ''
    const head = `  --${name}${arg}`
    lines.push(`${head.length < 30 ? head.padEnd(30) : `${head} `}${o.help}${dflt}   [${o.env}]`)
  }
  lines.push(`${'  -h, --help'.padEnd(30)}show this help`, `${'  -V, --version'.padEnd(30)}show the version`)
  return lines.join('\n')
}
