// Client authentication against PGlite's own pg_authid (auth.c, auth-scram.c, crypt.c): SCRAM-SHA-256 and
// MD5 through pg-gateway's auth flows, cleartext password, trust. Unknown roles and roles without a usable
// password go through the same exchange (a mock one for SCRAM) and fail the same way, as PostgreSQL does.

import crypto from 'node:crypto'
import { closeSignal, Md5AuthFlow, ScramSha256AuthFlow, verifyScramSha256Password } from 'pg-gateway'
import type { RoleRow } from '../databases/roles.js'
import { AuthCode, BackendCode } from './codes.js'
import { ProtocolViolation } from './framing.js'
import { authentication } from './serialize.js'
import { StartupError } from './startup.js'

export type AuthMethod = 'scram-sha-256' | 'md5' | 'password' | 'trust'

/** A role as pg_authid has it (null when it does not exist). */

/** The connection as authentication sees it. */
export interface AuthIo {
  write(bytes: Uint8Array): void
  /** the client's next PasswordMessage / SASL response ('p' message, whole) */
  read(): Promise<Uint8Array>
}

const SCRAM_RE = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/
const mockSecret = crypto.randomBytes(32)

/** PostgreSQL's message for every password failure (auth.c auth_failed): 28P01, nothing more revealed. */
function passwordFailed(user: string): StartupError {
  return new StartupError('28P01', `password authentication failed for user "${user}"`)
}

/**
 * Run the exchange for `method`. Resolves when the client proved its password (or trust applies);
 * throws StartupError (FATAL) or ProtocolViolation otherwise. Role checks (exists, LOGIN) come after.
 */
export async function authenticate(
  io: AuthIo,
  method: AuthMethod,
  user: string,
  role: RoleRow | null,
): Promise<void> {
  if (method === 'trust') return
  const stored = role?.password ?? null
  const usable = !!role && !role.expired && stored !== null
  const scram = stored ? SCRAM_RE.exec(stored) : null
  if (method === 'password') return cleartext(io, user, usable ? stored : null)
  // md5 with a SCRAM secret stored: PostgreSQL switches to SCRAM (auth.c CheckPWChallengeAuth)
  if (method === 'md5' && !(usable && scram))
    return md5(io, user, usable && stored?.startsWith('md5') ? stored : null)
  return scramSha256(io, user, usable ? scram : null)
}

async function scramSha256(io: AuthIo, user: string, secret: RegExpExecArray | null): Promise<void> {
  const data = secret
    ? { iterations: Number(secret[1]), salt: secret[2]!, storedKey: secret[3]!, serverKey: secret[4]! }
    : mockScram(user)
  let verified = false
  let checked = false
  const { reader, writer } = adapters()
  const flow = new ScramSha256AuthFlow({
    auth: {
      method: 'scram-sha-256',
      getScramSha256Data: () => data,
      validateCredentials: async ({ authMessage, clientProof }) => {
        checked = true
        verified =
          !!secret &&
          (await verifyScramSha256Password({ authMessage, clientProof, storedKey: data.storedKey }))
        return verified
      },
    },
    username: user,
    reader: reader as never,
    writer: writer as never,
    connectionState: { hasStarted: true, isAuthenticated: false, step: 'PerformingAuthentication' },
  })
  io.write(flow.createInitialAuthMessage())
  while (!flow.isCompleted) {
    const msg = await io.read()
    reader.setBuffer(msg, 1)
    for await (const out of flow.handleClientMessage(msg as Uint8Array<ArrayBuffer>)) {
      if (out === closeSignal)
        throw checked && !verified ? passwordFailed(user) : new ProtocolViolation('malformed SCRAM message')
      if (out[0] === BackendCode.ErrorResponse) {
        if (checked && !verified) throw passwordFailed(user)
        throw new ProtocolViolation(errorMessage(out) ?? 'malformed SCRAM message')
      }
      io.write(out)
    }
  }
  if (!verified) throw passwordFailed(user)
}

/** SCRAM data for a role that cannot log in this way: stable per user, so it reveals nothing. */
function mockScram(user: string) {
  const h = (label: string) => crypto.createHmac('sha256', mockSecret).update(`${label}:${user}`).digest()
  return {
    iterations: 4096,
    salt: h('salt').subarray(0, 16).toString('base64'),
    storedKey: h('stored').toString('base64'),
    serverKey: h('server').toString('base64'),
  }
}

async function md5(io: AuthIo, user: string, stored: string | null): Promise<void> {
  const { reader, writer } = adapters()
  let verified = false
  const flow = new Md5AuthFlow({
    auth: {
      method: 'md5',
      getPreHashedPassword: () => (stored ? stored.slice(3) : crypto.randomBytes(16).toString('hex')),
      validateCredentials: async ({ hashedPassword, preHashedPassword, salt }) => {
        const expected = `md5${crypto.createHash('md5').update(preHashedPassword).update(salt).digest('hex')}`
        verified = !!stored && timingSafeEqualStrings(expected, hashedPassword)
        return verified
      },
    },
    username: user,
    reader: reader as never,
    writer: writer as never,
    connectionState: { hasStarted: true, isAuthenticated: false, step: 'PerformingAuthentication' },
  })
  io.write(flow.createInitialAuthMessage())
  const msg = await io.read()
  reader.setBuffer(msg, 1)
  for await (const _ of flow.handleClientMessage(msg as Uint8Array<ArrayBuffer>)) {
    // the flow only yields its own failure report; ours follows
  }
  if (!verified) throw passwordFailed(user)
}

async function cleartext(io: AuthIo, user: string, stored: string | null): Promise<void> {
  io.write(authentication(AuthCode.CleartextPassword))
  const msg = await io.read()
  const end = msg.indexOf(0, 5)
  const password = Buffer.from(msg.subarray(5, end < 0 ? msg.length : end)).toString('utf8')
  if (!stored || !verifyPlain(user, password, stored)) throw passwordFailed(user)
}

/** crypt.c plain_crypt_verify: a cleartext password against a stored SCRAM secret or MD5 hash. */
export function verifyPlain(user: string, password: string, stored: string): boolean {
  const scram = SCRAM_RE.exec(stored)
  if (scram) {
    const salted = crypto.pbkdf2Sync(
      password.normalize('NFKC'),
      Buffer.from(scram[2]!, 'base64'),
      Number(scram[1]),
      32,
      'sha256',
    )
    const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest()
    const storedKey = crypto.createHash('sha256').update(clientKey).digest()
    return timingSafeEqualStrings(storedKey.toString('base64'), scram[3]!)
  }
  if (stored.startsWith('md5'))
    return timingSafeEqualStrings(
      `md5${crypto
        .createHash('md5')
        .update(password + user)
        .digest('hex')}`,
      stored,
    )
  return false
}

/** A SCRAM-SHA-256 secret in pg_authid's format for a password (what PostgreSQL stores for PASSWORD). */
export function scramSecret(password: string, iterations = 4096): string {
  const salt = crypto.randomBytes(16)
  const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
  const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = crypto.createHash('sha256').update(clientKey).digest()
  const serverKey = crypto.createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

function timingSafeEqualStrings(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && crypto.timingSafeEqual(x, y)
}

function errorMessage(msg: Uint8Array): string | undefined {
  let i = 5
  while (i < msg.length && msg[i] !== 0) {
    const code = msg[i]
    const end = msg.indexOf(0, i + 1)
    if (code === 0x4d) return Buffer.from(msg.subarray(i + 1, end)).toString('utf8')
    i = end + 1
  }
  return undefined
}

/** Reader/writer objects with the methods pg-gateway's auth flows call (its BufferReader/BufferWriter). */
function adapters() {
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })
  let buf: Uint8Array = new Uint8Array(0)
  let pos = 0
  const reader = {
    setBuffer(b: Uint8Array, offset = 0) {
      buf = b
      pos = offset
    },
    byte: () => buf[pos++]!,
    int16() {
      const v = (buf[pos]! << 8) | buf[pos + 1]!
      pos += 2
      return v
    },
    int32() {
      const v = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!
      pos += 4
      return v
    },
    string(len: number) {
      const s = utf8.decode(buf.subarray(pos, pos + len))
      pos += len
      return s
    },
    cstring() {
      let e = pos
      while (e < buf.length && buf[e] !== 0) e++
      const s = utf8.decode(buf.subarray(pos, e))
      pos = e + 1
      return s
    },
    bytes(len: number) {
      const b = buf.slice(pos, pos + len)
      pos += len
      return b
    },
  }
  let parts: Uint8Array[] = []
  const enc = new TextEncoder()
  const writer = {
    addInt32(v: number) {
      const b = new Uint8Array(4)
      new DataView(b.buffer).setInt32(0, v)
      parts.push(b)
      return writer
    },
    addInt16(v: number) {
      const b = new Uint8Array(2)
      new DataView(b.buffer).setInt16(0, v)
      parts.push(b)
      return writer
    },
    addCString(s: string) {
      parts.push(enc.encode(s), new Uint8Array([0]))
      return writer
    },
    addString(s = '') {
      parts.push(enc.encode(s))
      return writer
    },
    add(b: Uint8Array) {
      parts.push(new Uint8Array(b))
      return writer
    },
    flush(code?: number) {
      const body = Buffer.concat(parts)
      parts = []
      if (code === undefined) return new Uint8Array(body)
      const out = new Uint8Array(5 + body.length)
      out[0] = code
      new DataView(out.buffer).setInt32(1, 4 + body.length)
      out.set(body, 5)
      return out
    },
  }
  return { reader, writer }
}
