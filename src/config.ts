// Configuration of the pyglite server: command-line flags over PYGLITE_* environment variables over
// defaults, validated with zod into one typed object. Errors are one line each (the CLI exits 2).
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'

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

const schema = z.object({
  port: z.coerce
    .number({ error: 'expected an integer from 0 to 65535' })
    .int({ error: 'expected an integer from 0 to 65535' })
    .min(0, { error: 'expected an integer from 0 to 65535' })
    .max(65535, { error: 'expected an integer from 0 to 65535' }),
  host: z.string().min(1, { error: 'must not be empty' }),
  dataDir: z.string().min(1, { error: 'must not be empty' }),
  password: z.string().min(1, { error: 'must not be empty' }).optional(),
  auth: z.enum(AUTH_METHODS, { error: `expected one of ${AUTH_METHODS.join(', ')}` }),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }),
  pythonPath: z.array(z.string().min(1)),
  pythonVenv: z.string().min(1, { error: 'must not be empty' }).optional(),
  pythonSystemSitePackages: z.boolean(),
  pythonIndexUrl: z.url({ error: 'expected a URL' }).optional(),
  pythonExtraIndexUrl: z.array(z.url({ error: 'expected a URL' })),
  pythonFindLinks: z.array(z.string().min(1)),
  pythonNoIndex: z.boolean(),
  allowRemoteTrust: z.boolean(),
  fsync: z.boolean(),
})

export type Config = z.infer<typeof schema>

const FIELD_FLAG: Record<string, string> = {
  port: 'port',
  host: 'host',
  dataDir: 'data-dir',
  password: 'password',
  auth: 'auth',
  tlsCert: 'tls-cert',
  tlsKey: 'tls-key',
  logLevel: 'log-level',
  pythonPath: 'python-path',
  pythonVenv: 'python-venv',
  pythonSystemSitePackages: 'python-system-site-packages',
  pythonIndexUrl: 'python-index-url',
  pythonExtraIndexUrl: 'python-extra-index-url',
  pythonFindLinks: 'python-find-links',
  pythonNoIndex: 'python-no-index',
  allowRemoteTrust: 'allow-remote-trust',
  fsync: 'fsync',
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
  const raw = {
    port: get('port'),
    host: get('host'),
    dataDir: get('data-dir'),
    password: get('password'),
    auth: get('auth'),
    tlsCert: get('tls-cert'),
    tlsKey: get('tls-key'),
    logLevel: get('log-level'),
    pythonPath,
    pythonVenv: get('python-venv'),
    pythonSystemSitePackages: onOff(
      'python-system-site-packages',
      get('python-system-site-packages') ?? 'on',
    ),
    pythonIndexUrl: get('python-index-url'),
    pythonExtraIndexUrl: list('python-extra-index-url'),
    pythonFindLinks: list('python-find-links'),
    pythonNoIndex: envFlag('python-no-index'),
    allowRemoteTrust:
      values['allow-remote-trust'] === true ||
      (allowEnv !== undefined && bool('allow-remote-trust', allowEnv)),
    fsync: onOff('fsync', get('fsync') ?? 'on'),
  }
  if (raw.port !== undefined && !/^\s*\d+\s*$/.test(raw.port))
    throw new ConfigError(`--port: expected an integer from 0 to 65535, got "${raw.port}"`)
  const r = schema.safeParse(raw)
  if (!r.success) {
    const issue = r.error.issues[0]!
    const field = String(issue.path[0] ?? '')
    const flag = FIELD_FLAG[field] ?? field
    let given = (raw as Record<string, unknown>)[field]
    // a list flag (--python-find-links …): the value at fault
    if (Array.isArray(given) && typeof issue.path[1] === 'number') given = given[issue.path[1]]
    throw new ConfigError(`--${flag}: ${issue.message}${typeof given === 'string' ? `, got "${given}"` : ''}`)
  }
  const c = r.data
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
