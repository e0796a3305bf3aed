// One client connection on the main thread: start-up (TLS, CancelRequest), authentication, then the
// session: complete messages go to the engine in batches, output comes back and is written with
// backpressure both ways. The engine decides whose turn it is; this side only frames and forwards.

import crypto from 'node:crypto'
import type net from 'node:net'
import { Duplex } from 'node:stream'
import tls from 'node:tls'
import type { DatabaseManager } from '../databases/manager.js'
import type { RoleRow } from '../databases/roles.js'
import { type DatabaseCommand, parseDatabaseCommand } from '../databases/statements.js'
import type { ClientInfo } from '../engine/channel/protocol.js'
import type { Engine, SessionSink } from '../engine/client.js'
import { trailingReadyStatus } from '../engine/sessions/backend-stream.js'
import type { PackageManager } from '../packages/manager.js'
import { type PackageCommand, parsePackageCommand } from '../packages/statements.js'
import { concatBytes } from '../util/bytes.js'
import { describeError } from '../util/errors.js'
import type { Logger } from '../util/log.js'
import { type AuthMethod, authenticate } from './auth.js'
import { AuthCode } from './codes.js'
import { MessageBuffer, ProtocolViolation } from './framing.js'
import {
  answerExtended,
  Batch,
  type BatchState,
  batchState,
  ErrorWatch,
  encodeReply,
  type Found,
  findCommand,
  SYNC_MESSAGE,
  syncAt,
} from './intercept.js'
import {
  authentication,
  backendKeyData,
  type ErrorFields,
  errorResponse,
  fatal,
  negotiateProtocolVersion,
  noticeResponse,
  parameterStatus,
  readyForQuery,
} from './serialize.js'
import { parseStartupPacket, StartupError, type StartupParams } from './startup.js'

/** What a connection needs from the server. */
/** A statement the main thread answers itself (each database is its own cluster; pip must not hold the engine). */
type MainCommand = { database: DatabaseCommand } | { package: PackageCommand }
/** The words without which a message cannot hold one (wire/intercept.ts decodes only messages with them). */
const MAIN_WORDS = ['database', 'pyglite']

export interface WireContext {
  engine: Engine
  auth: AuthMethod
  tls: tls.SecureContext | null
  log: Logger
  /** the engine database serving a client-visible database name, or null (3D000) */
  resolveDatabase(name: string): string | null
  lookupRole(db: string, name: string): Promise<RoleRow | null>
  /** CancelRequest: interrupt connection `pid`'s statement if `secret` matches */
  cancel(pid: number, secret: number): void
  register(conn: Connection): void
  unregister(conn: Connection): void
  nextSid(): number
  /** CREATE/DROP DATABASE, answered on the main thread (src/databases) */
  databases?: DatabaseManager
  /** CALL pyglite.install / uninstall / sync, answered on the main thread (src/packages) */
  packages?: PackageManager
}

/** Input bytes handed to the engine and not yet consumed above which we stop reading the socket. */
const IN_HIGH_WATER = 1 << 21
const IN_LOW_WATER = 1 << 19
/** PostgreSQL's authentication_timeout default. */
const AUTH_TIMEOUT_MS = 60_000

class Closed extends Error {}

/** The first byte of a TLS handshake record (ClientHello). */
const TLS_HANDSHAKE = 0x16
/** The one ALPN protocol PostgreSQL speaks (PG_ALPN_PROTOCOL). */
const ALPN = ['postgresql']

/** A duplex over `raw` that first yields `head` (bytes already read from it), then what `raw` receives. */
function replaying(raw: net.Socket, head: Uint8Array): Duplex {
  const d = new Duplex({
    read() {
      raw.resume()
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb)
    },
    final(cb) {
      raw.end()
      cb()
    },
    destroy(err, cb) {
      raw.destroy()
      cb(err)
    },
  })
  d.push(Buffer.from(head))
  raw.on('data', (c: Buffer) => {
    if (!d.push(c)) raw.pause()
  })
  raw.on('end', () => d.push(null))
  raw.on('close', () => d.destroy())
  return d
}

export class Connection {
  sid = 0
  secret = 0
  private sock: net.Socket
  private readonly buf = new MessageBuffer()
  private wakeReader: (() => void) | null = null
  private ready = false
  private closed = false
  /** set once the connection is ending: no more input is read */
  private ending: { final: Uint8Array | null } | null = null
  private opened = false
  private inflight = 0
  private paused = false
  private user = ''
  private db = ''
  /** the transaction status of the last ReadyForQuery sent (ReadyForQuery ends each batch's output) */
  private txStatus = 0x49 // 'I'
  /** where the client's extended-protocol batch stands (intercept.ts batchState) */
  private batch: BatchState = Batch.CLOSED
  /** an ErrorResponse since the last ReadyForQuery: PostgreSQL skips the batch until Sync */
  private readonly errors = new ErrorWatch()
  /** the next ReadyForQuery is the answer to a Sync the client did not send (databaseCommand) */
  private swallowReady = false
  /** a command answered here failed before its batch's Sync: what follows is skipped until Sync */
  private skipTillSync = false
  private lastStatus: number | null = null
  /** a database command is being answered: later input waits in the buffer */
  private gated = false
  private drainWaiter: (() => void) | null = null
  /** the TCP peer (the socket TLS may wrap later knows it no more) */
  private readonly peer: { addr?: string; port?: number }

  constructor(
    socket: net.Socket,
    private readonly ctx: WireContext,
  ) {
    this.sock = socket
    this.peer = { addr: socket.remoteAddress, port: socket.remotePort }
    socket.setNoDelay(true)
    this.listen(socket)
    void this.run()
  }

  private readonly handlers = {
    data: (chunk: Buffer) => this.onData(chunk),
    error: (e: Error) => this.ctx.log.debug({ err: e, sid: this.sid }, 'connection error'),
    close: () => this.onClose(),
  }

  private listen(s: net.Socket): void {
    s.on('data', this.handlers.data)
    s.on('error', this.handlers.error)
    s.on('close', this.handlers.close)
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return
    this.buf.push(chunk)
    if (this.ready) this.forward()
    else this.wakeReader?.()
  }

  private async read<T>(take: () => T | null): Promise<T> {
    for (;;) {
      const v = take()
      if (v !== null) return v
      if (this.closed) throw new Closed()
      await new Promise<void>((r) => {
        this.wakeReader = r
      })
      this.wakeReader = null
    }
  }

  private write(bytes: Uint8Array): void {
    if (!this.closed && !this.sock.destroyed) this.sock.write(bytes)
  }

  private async run(): Promise<void> {
    const timer = setTimeout(
      () => this.end(fatal('08006', 'canceling authentication due to timeout')),
      AUTH_TIMEOUT_MS,
    )
    try {
      const params = await this.startup()
      if (!params) return
      await this.login(params)
    } catch (e) {
      if (e instanceof Closed) return
      if (e instanceof ProtocolViolation && e.quiet) {
        // COMMERROR in backend_startup.c: logged, nothing sent, the connection closes
        this.ctx.log.debug({ reason: e.message }, 'start-up ended')
        this.end(null)
      } else if (e instanceof ProtocolViolation) this.end(fatal('08P01', e.message))
      else if (e instanceof StartupError) this.end(fatal(e.code, e.message, e.extra))
      else {
        this.ctx.log.error({ err: e }, 'connection start-up failed')
        this.end(fatal('XX000', `internal error: ${describeError(e)}`))
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** SSLRequest / GSSENCRequest / CancelRequest until the StartupMessage (backend_startup.c). */
  private async startup(): Promise<StartupParams | null> {
    let sslDone = false
    let gssDone = false
    // ProcessSSLStartup: a first byte 0x16 is a TLS handshake record, not a length (PostgreSQL 17+'s direct
    // TLS, libpq's sslnegotiation=direct); nothing at all is a quiet close (Closed)
    if ((await this.read(() => this.buf.peekByte())) === TLS_HANDSHAKE) {
      if (!this.ctx.tls)
        throw new ProtocolViolation('direct SSL connection rejected: SSL is not enabled', true)
      await this.upgradeDirect(this.ctx.tls)
      sslDone = true
      gssDone = true
    }
    for (;;) {
      const packet = parseStartupPacket(await this.read(() => this.buf.nextStartupPacket()))
      switch (packet.kind) {
        case 'cancel':
          this.ctx.cancel(packet.pid, packet.secret)
          this.end(null)
          return null
        case 'gssenc':
          if (gssDone) throw new ProtocolViolation('unsupported frontend protocol 1234.5680')
          gssDone = true
          this.write(new Uint8Array([0x4e])) // 'N': no GSSAPI encryption
          unencryptedAfter(this.buf.length, 'GSSAPI encryption request')
          break
        case 'ssl':
          if (sslDone) throw new ProtocolViolation('unsupported frontend protocol 1234.5679')
          sslDone = true
          this.write(new Uint8Array([this.ctx.tls ? 0x53 : 0x4e])) // 'S' (then the TLS handshake) or 'N'
          unencryptedAfter(this.buf.length, 'SSL request')
          if (!this.ctx.tls) break
          this.upgrade(this.ctx.tls)
          gssDone = true
          break
        case 'startup':
          return packet.params
      }
    }
  }

  private upgrade(secureContext: tls.SecureContext): void {
    const raw = this.detach()
    // ALPN as be-secure-openssl.c: a client that offers protocols must offer "postgresql"
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ALPN })
    this.sock = t
    this.listen(t)
    raw.on('error', () => {})
  }

  /**
   * Direct TLS: the ClientHello is already in our buffer, so the TLS socket reads it from a stream that
   * replays those bytes before the socket's own. The handshake must have negotiated ALPN "postgresql"
   * (ProcessSSLStartup), otherwise the connection closes without a word.
   */
  private async upgradeDirect(secureContext: tls.SecureContext): Promise<void> {
    const head = this.buf.takeAll()
    const raw = this.detach()
    raw.on('error', () => {})
    const t = new tls.TLSSocket(replaying(raw, head), { isServer: true, secureContext, ALPNProtocols: ALPN })
    this.sock = t
    this.listen(t)
    await new Promise<void>((resolve) => {
      t.once('secure', resolve)
      t.once('close', resolve)
    })
    if (this.closed) throw new Closed()
    if (t.alpnProtocol !== 'postgresql')
      throw new ProtocolViolation(
        'received direct SSL connection request without ALPN protocol negotiation extension',
        true,
      )
  }

  /** Stop listening on the plain socket (it is about to carry TLS). */
  private detach(): net.Socket {
    const raw = this.sock
    raw.off('data', this.handlers.data)
    raw.off('close', this.handlers.close)
    raw.off('error', this.handlers.error)
    return raw
  }

  private async login(p: StartupParams): Promise<void> {
    const { engine } = this.ctx
    this.user = p.user
    if (p.minor > 0 || p.protocolOptions.length > 0)
      this.write(negotiateProtocolVersion(0, p.protocolOptions))
    const db = this.ctx.resolveDatabase(p.database)
    // the role is needed for the password exchange; trust only needs it afterwards (as PostgreSQL)
    const role = await this.ctx.lookupRole(db ?? 'postgres', p.user)
    await authenticate(
      {
        write: (b) => this.write(b),
        read: () => this.read(() => this.buf.nextAuthMessage()),
      },
      this.ctx.auth,
      p.user,
      role,
    )
    this.write(authentication(AuthCode.Ok))
    // postinit.c: InitializeSessionUserId (role checks), then the database lookup
    if (!role) throw new StartupError('28000', `role "${p.user}" does not exist`)
    if (!role.canLogin) throw new StartupError('28000', `role "${p.user}" is not permitted to log in`)
    if (!db) throw new StartupError('3D000', `database "${p.database}" does not exist`)
    // only now, authenticated: the role is made to exist in the target database's cluster (src/databases)
    const oid = this.ctx.databases ? await this.ctx.databases.roleOid(db, role.name, role.oid) : role.oid
    if (oid === undefined) throw new StartupError('3D000', `database "${db}" does not exist`)
    // InitPostgres: process_startup_options comes after authentication and the role and database checks
    if (p.optionsError) throw p.optionsError
    this.db = db
    this.sid = this.ctx.nextSid()
    this.secret = crypto.randomBytes(4).readInt32BE(0) // unguessable: it is what authorizes a cancel
    const opened = await engine.openSession(
      {
        sid: this.sid,
        db,
        login: { oid, name: role.name, superuser: role.superuser },
        settings: p.settings,
        client: clientInfo(this.sock, this.peer),
      },
      this.sink(),
    )
    if (!opened.ok)
      throw new StartupError(opened.error.C ?? 'XX000', opened.error.M ?? 'error', pick(opened.error))
    this.opened = true
    if (this.closed) {
      this.cleanup()
      return
    }
    this.ctx.register(this)
    this.write(
      concatBytes([
        ...opened.parameters.map(([k, v]) => parameterStatus(k, v)),
        backendKeyData(this.sid, this.secret),
        readyForQuery('I'),
      ]),
    )
    this.ctx.log.debug({ sid: this.sid, user: p.user, db }, 'connection authorized')
    this.ready = true
    this.forward()
  }

  private sink(): SessionSink {
    return {
      data: (chunk, done) => {
        let bytes = chunk
        this.lastStatus = trailingReadyStatus(bytes)
        this.errors.feed(bytes)
        if (this.swallowReady && this.lastStatus !== null) {
          this.swallowReady = false
          bytes = bytes.subarray(0, bytes.length - 6)
        }
        if (this.closed || this.sock.destroyed || bytes.length === 0) return done()
        this.sock.write(bytes, () => done())
      },
      consumed: (n) => {
        this.inflight -= n
        if (this.lastStatus !== null) this.txStatus = this.lastStatus
        if (this.inflight <= 0) this.drainWaiter?.()
        if (this.ending && this.inflight <= 0) this.finish()
        else if (this.paused && this.inflight < IN_LOW_WATER) {
          this.paused = false
          this.sock.resume()
        }
      },
      failed: (fields) => {
        this.inflight = 0
        this.end(errorResponse({ ...fields, S: 'FATAL', V: 'FATAL' }))
      },
      ended: () => {
        this.inflight = 0
        this.end(null)
      },
    }
  }

  /** Hand complete messages to the engine; stop at Terminate or a protocol violation. */
  private forward(): void {
    if (this.gated) return
    const b = this.buf.takeMessages()
    const found = b.data ? this.mainCommand(b.data) : null
    if (found && b.data) {
      // a copy: the command is answered after awaits, while the buffer takes new bytes
      void this.databaseCommand(b.data.slice(), found, { violation: b.violation, terminate: b.terminate })
      return
    }
    this.send(b)
  }

  private send(b: { data: Uint8Array | null; violation?: Error; terminate: boolean }): void {
    if (this.skipTillSync && b.data) {
      // postgres.c ignore_till_sync, for an error of a command answered here
      const at = syncAt(b.data)
      this.skipTillSync = at < 0
      b = { ...b, data: at < 0 ? null : b.data.subarray(at) }
    }
    if (b.data) {
      this.batch = batchState(b.data, this.batch)
      this.inflight += b.data.length
      this.ctx.engine.input(this.sid, b.data)
      if (this.inflight > IN_HIGH_WATER && !this.paused) {
        this.paused = true
        this.sock.pause()
      }
    }
    if (b.violation) this.endAfterInput(fatal('08P01', b.violation.message))
    else if (b.terminate) this.endAfterInput(null)
  }

  /** The first statement of a batch that the main thread answers itself (a database or package command). */
  private mainCommand(data: Uint8Array): Found<MainCommand> | null {
    const { databases, packages } = this.ctx
    if (!databases && !packages) return null
    return findCommand(data, MAIN_WORDS, (sql) => {
      const database = databases ? parseDatabaseCommand(sql) : null
      if (database) return { database }
      const pkg = packages ? parsePackageCommand(sql) : null
      return pkg ? { package: pkg } : null
    })
  }

  /**
   * A CREATE/DROP DATABASE Query: the messages before it run first, then the main thread answers it (each
   * database is its own cluster: src/databases), then the rest goes on. Inside a transaction block it goes
   * to PostgreSQL, which refuses it there (25001) and fails the transaction as it should.
   */
  private async databaseCommand(
    data: Uint8Array,
    found: Found<MainCommand>,
    b: { violation?: Error; terminate: boolean },
  ): Promise<void> {
    this.gated = true
    try {
      // views: Engine.input copies what it is given
      if (found.start > 0) this.send({ data: data.subarray(0, found.start), terminate: false })
      if (this.inflight > 0)
        await new Promise<void>((r) => {
          this.drainWaiter = r
        })
      this.drainWaiter = null
      const msg = data.subarray(found.start, found.end)
      if (this.closed) return
      // inside a transaction block or a pipeline PostgreSQL refuses it (25001) and fails what it should;
      // after an error in the batch it skips it until Sync
      if (this.txStatus !== 0x49 || this.batch === Batch.PIPELINED || this.errors.failed)
        this.send({ data: msg, terminate: false })
      else {
        if (this.batch === Batch.OPEN) {
          // the batch's earlier Parse/Bind hold the engine until Sync: end their implicit transaction as the
          // command's immediate commit does (xact.c XACT_FLAGS_NEEDIMMEDIATECOMMIT); its ReadyForQuery unseen
          this.swallowReady = true
          this.send({ data: SYNC_MESSAGE, terminate: false })
          await new Promise<void>((r) => {
            this.drainWaiter = r
          })
          this.drainWaiter = null
          if (this.closed) return
        }
        this.batch = batchState(msg, Batch.CLOSED)
        // a package command's progress NOTICEs are written as they come (simple protocol; NoticeResponse may
        // come at any time), with the extended protocol they come with its reply
        const notice = found.extended ? null : (f: Record<string, string>) => this.write(noticeResponse(f))
        const c = found.command
        const run =
          'package' in c
            ? () => this.ctx.packages!.execute(this, c.package, notice)
            : () => this.ctx.databases!.execute(this, c.database)
        const reply = found.extended ? await answerExtended(msg, run) : encodeReply(await run())
        const failed = new ErrorWatch()
        failed.feed(reply)
        this.skipTillSync = failed.failed
        this.write(reply)
      }
    } catch (e) {
      this.ctx.log.error({ err: e }, 'database command failed')
    } finally {
      this.gated = false
    }
    const rest = data.subarray(found.end)
    const next = rest.length ? this.mainCommand(rest) : null
    if (next) return this.databaseCommand(rest, next, b)
    this.send({ data: rest.length ? rest : null, violation: b.violation, terminate: b.terminate })
    if (!this.ending) this.forward()
  }

  /** End once the engine has run everything already sent (its output still reaches the client). */
  endAfterInput(final: Uint8Array | null): void {
    if (this.ending) return
    this.ending = { final }
    this.sock.pause()
    if (this.inflight <= 0) this.finish()
  }

  private finish(): void {
    const final = this.ending?.final ?? null
    this.end(final)
  }

  /** Write a last message (a FATAL) if any, close the socket, and end the engine session. */
  end(final: Uint8Array | null): void {
    if (!this.ending) this.ending = { final }
    if (!this.closed && !this.sock.destroyed) {
      if (final) this.sock.write(final)
      this.sock.end()
    }
    this.markClosed()
  }

  private onClose(): void {
    // the client vanished without Terminate: stop its running statement rather than let it hold the engine.
    // A command still waiting for its turn runs when the turn comes, as PostgreSQL runs what it read before
    // the EOF (postgres.c reads one message at a time; turns.ts closeWaits), and commits it.
    if (!this.closed && !this.ending && this.opened) this.ctx.engine.cancel(this.sid, 'user', false)
    this.markClosed()
  }

  private markClosed(): void {
    if (this.closed) return
    this.closed = true
    this.wakeReader?.()
    if (this.opened) this.cleanup()
  }

  private cleanup(): void {
    this.ctx.unregister(this)
    this.ctx.engine
      .closeSession(this.sid)
      .catch((e) => this.ctx.log.warn({ err: e, sid: this.sid }, 'session close failed'))
  }

  /** Server shutdown: finish what was sent, then FATAL 57P01 (PostgreSQL's fast shutdown message). */
  terminate(): void {
    const bye = fatal('57P01', 'terminating connection due to administrator command')
    if (this.ready) this.endAfterInput(bye)
    else this.end(bye)
  }

  /** Drop the connection without a word (the engine session is ended as for a vanished client). */
  destroy(): void {
    this.sock.destroy()
  }

  get idle(): boolean {
    return this.inflight <= 0
  }

  get userName(): string {
    return this.user
  }

  /** the database this connection is connected to ('' before the session opened) */
  get database(): string {
    return this.db
  }
}

function pick(fields: ErrorFields): ErrorFields {
  const out: ErrorFields = {}
  for (const k of ['D', 'H', 'W'] as const) if (fields[k] !== undefined) out[k] = fields[k]
  return out
}

/**
 * backend_startup.c ProcessStartupPacket: bytes that arrived with an SSLRequest or GSSENCRequest, before its
 * answer, were sent unencrypted without knowing whether encryption would follow: refused whatever the
 * answer ('S' or 'N'), as PostgreSQL refuses them.
 */
function unencryptedAfter(buffered: number, request: string): void {
  if (buffered > 0)
    throw new StartupError('08P01', `received unencrypted data after ${request}`, {
      D: 'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
    })
}

/** Where the client is (pg_stat_activity client_addr/client_port; pg_stat_ssl when TLS is in use). */
function clientInfo(sock: net.Socket, peer: { addr?: string; port?: number }): ClientInfo {
  // an IPv4 client of a dual-stack listener: PostgreSQL shows the IPv4 address
  const v4 = (a: string | undefined) => a?.replace(/^::ffff:(?=\d+\.)/, '')
  const addr = v4(peer.addr)
  const info: ClientInfo = addr ? { addr, port: peer.port } : {}
  const local = v4(sock.localAddress)
  if (addr && local && sock.localPort !== undefined) info.server = { addr: local, port: sock.localPort }
  if (sock instanceof tls.TLSSocket) {
    const c = sock.getCipher()
    const bits = /256|CHACHA20/.test(c.name) ? 256 : /128/.test(c.name) ? 128 : 0
    info.ssl = { version: sock.getProtocol() ?? c.version, cipher: c.name, bits }
  }
  return info
}
