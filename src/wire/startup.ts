// Parses the packets of the start-up phase: StartupMessage (user, database, options, GUC settings),
// CancelRequest. Mirrors ProcessStartupPacket (backend_startup.c) and process_startup_options (postinit.c).
import { PROTOCOL_3_0, StartupCode } from './codes.js'
import { ProtocolViolation } from './framing.js'
import type { ErrorFields } from './serialize.js'

/** A start-up problem PostgreSQL reports as FATAL with this SQLSTATE. */
export class StartupError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: ErrorFields = {},
  ) {
    super(message)
  }
}

export interface StartupParams {
  user: string
  database: string
  /** GUC settings: from `options` (-c name=value, --name=value) first, then the packet's own */
  settings: Array<[string, string]>
  /** protocol minor version asked for (3.x) */
  minor: number
  /** `_pq_.*` protocol options, none of which are supported */
  protocolOptions: string[]
  /** a bad `options` switch: reported after authentication, where postinit.c process_startup_options runs */
  optionsError?: StartupError
}

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; params: StartupParams }

const NAMEDATALEN = 64
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

export function parseStartupPacket(p: Uint8Array): StartupPacket {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const code = dv.getInt32(4)
  if (code === StartupCode.SSLRequest && p.length === 8) return { kind: 'ssl' }
  if (code === StartupCode.GSSENCRequest && p.length === 8) return { kind: 'gssenc' }
  if (code === StartupCode.CancelRequest) {
    if (p.length !== 16) throw new ProtocolViolation('invalid length of startup packet', true)
    return { kind: 'cancel', pid: dv.getInt32(8), secret: dv.getInt32(12) }
  }
  const major = code >>> 16
  const minor = code & 0xffff
  if (major !== PROTOCOL_3_0 >>> 16)
    throw new StartupError(
      '0A000',
      `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
    )
  return { kind: 'startup', params: parseStartupMessage(p.subarray(8), minor) }
}

function parseStartupMessage(body: Uint8Array, minor: number): StartupParams {
  const strings: string[] = []
  let s = 0
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0) {
      strings.push(utf8.decode(body.subarray(s, i)))
      s = i + 1
    }
  }
  // name/value pairs, then an empty name; the terminator must be the last byte
  let user = ''
  let database = ''
  let options = ''
  const settings: Array<[string, string]> = []
  const protocolOptions: string[] = []
  let i = 0
  for (; i + 1 < strings.length && strings[i] !== ''; i += 2) {
    const name = strings[i]!
    const value = strings[i + 1]!
    if (name === 'user') user = value
    else if (name === 'database') database = value
    else if (name === 'options') options = value
    else if (name === 'replication') {
      if (!/^(database|0|1|t|f|on|off|true|false|yes|no)$/i.test(value))
        throw new StartupError('22023', `invalid value for parameter "replication": "${value}"`, {
          H: 'Valid values are: "false", 0, "true", 1, "database".',
        })
      if (/^(database|1|t|on|true|yes)$/i.test(value))
        throw new StartupError('0A000', 'replication connections are not supported by pyglite')
    } else if (name.startsWith('_pq_.')) protocolOptions.push(name)
    else settings.push([name, value])
  }
  if (strings[i] !== '' || s !== body.length || i + 1 !== strings.length)
    throw new ProtocolViolation('invalid startup packet layout: expected terminator as last byte')
  if (!user) throw new StartupError('28000', 'no PostgreSQL user name specified in startup packet')
  if (!database) database = user
  let switches: Array<[string, string]> = []
  let optionsError: StartupError | undefined
  try {
    switches = parseOptions(options)
  } catch (e) {
    if (!(e instanceof StartupError)) throw e
    optionsError = e
  }
  return {
    user: truncateName(user),
    database: truncateName(database),
    settings: [...switches, ...settings],
    minor,
    protocolOptions,
    ...(optionsError ? { optionsError } : {}),
  }
}

/** Names longer than NAMEDATALEN-1 bytes are truncated, as the backend does before looking them up. */
function truncateName(name: string): string {
  const b = new TextEncoder().encode(name)
  if (b.length < NAMEDATALEN) return name
  let n = NAMEDATALEN - 1
  while (n > 0 && (b[n]! & 0xc0) === 0x80) n-- // do not cut a multibyte character
  return utf8.decode(b.subarray(0, n))
}

/**
 * The `options` start-up parameter: command-line switches split on unescaped whitespace (pg_split_opts,
 * backslash escapes), of which `-c name=value` and `--name=value` set GUCs (process_postgres_switches).
 */
export function parseOptions(options: string): Array<[string, string]> {
  const words: string[] = []
  let cur = ''
  let inWord = false
  for (let i = 0; i < options.length; i++) {
    const c = options[i]!
    if (/\s/.test(c)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else if (c === '\\' && i + 1 < options.length) {
      cur += options[++i]
      inWord = true
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) words.push(cur)
  const out: Array<[string, string]> = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    let kv: string | undefined
    if (w === '-c') kv = words[++i]
    else if (w.startsWith('-c')) kv = w.slice(2)
    else if (w.startsWith('--')) kv = w.slice(2)
    if (kv === undefined)
      throw new StartupError('42601', `invalid command-line argument for server process: ${w}`, {
        H: 'Try "postgres --help" for more information.',
      })
    const eq = kv.indexOf('=')
    if (eq <= 0) {
      throw new StartupError(
        '42601',
        w.startsWith('--') ? `--${kv} requires a value` : `-c ${kv} requires a value`,
      )
    }
    // ParseLongOption: dashes in the name become underscores
    out.push([kv.slice(0, eq).replace(/-/g, '_'), kv.slice(eq + 1)])
  }
  return out
}
