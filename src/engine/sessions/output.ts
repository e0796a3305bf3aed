// One exec's connection to its client, on the engine thread: backend output goes to the main thread in
// batches with backpressure (the engine blocks while too many bytes wait for a slow client), and
// COPY FROM STDIN waits here for the client's next CopyData.
import type { FatalOutput } from '../../plpy-shim/fatal.js'
import { outputFrame } from '../channel/frames.js'
import { CTL, type FromWorker, OUT_HIGH_WATER, OUT_LOW_WATER, type WorkItem } from '../channel/protocol.js'
import type { ExecIo } from '../storage/pgio.js'
import { trailingReadyStatus } from './backend-stream.js'
import { CopyFailOutput, copyScan } from './copyviolation.js'
import { copyFail } from './frontend.js'

/** PostgreSQL flushes its 8 KiB send buffer when full; smaller flushes are explicit (end of a command,
 * a NOTICE, a COPY start, a Flush message) and go out at once. */
const SEND_BUFFER = 8192
/** Bulk output is batched up to this many bytes per message to the main thread. */
const BATCH = 1 << 16
/** Output messages larger than this are transferred rather than copied to the main thread. */
const TRANSFER_FROM = 1 << 14
/** How long a blocked wait sleeps before looking at the queue again. */
const WAIT_MS = 1000

type Post = (m: FromWorker, transfer?: ArrayBuffer[]) => void

/**
 * Where flushed chunks wait until their frame leaves (they are views into wasm memory, valid only during the
 * write callback). One exec at a time runs on the engine thread, and it sends everything at its end, so one
 * area serves every Output; a chunk that does not fit is copied on its own.
 */
const stage = new Uint8Array(BATCH + SEND_BUFFER)
/** the last frame copied to the main thread, reused for the next one of the same size (outputFrame) */
let spare: Uint8Array | undefined

export class Output {
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private consumedBytes = 0
  /** the client went away: drop output, end COPY */
  private gone = false

  /** the session ends with this exec (plpy.fatal): the main thread closes it after the output */
  terminate = false

  constructor(
    private readonly sid: number,
    private readonly ctl: Int32Array,
    private readonly post: Post,
    private readonly queue: WorkItem[],
    private readonly drain: () => void,
    /** plpy.fatal: whether one is pending, and the filter that cuts the output there (made when needed,
     * at the position the output stream has reached) */
    private readonly fatal: { pending(): boolean; filter(): FatalOutput },
    /** whether a cancel request is pending for the running statement (QueryCancelPending) */
    private readonly cancelPending: () => boolean = () => false,
  ) {}

  /** The ExecIo for PgIo; `moreInput()` tells whether the batch still has messages to run. */
  io(moreInput: () => boolean): ExecIo {
    return {
      out: (chunk) => this.out(chunk, moreInput),
      more: () => this.more(),
    }
  }

  private fatalFilter: FatalOutput | undefined

  /** the CopyFail given for a message COPY FROM STDIN refuses, or for a cancel (copyviolation.ts): the
   * filter that rewords its error */
  private copyFailed: CopyFailOutput | undefined
  /** the refused message's type, while the CopyFail standing for it is still to be handed over */
  private violationPending: number | undefined

  /** the rest of the exec's batch, after a message that may start COPY FROM STDIN (copyStartEnd) */
  leftover: Uint8Array | undefined

  /** The rest of the batch, if the backend did not read it as COPY data. */
  takeLeftover(): Uint8Array | undefined {
    const d = this.leftover
    this.leftover = undefined
    return d
  }

  /** The client broke the COPY protocol: its session ends with this exec (as PostgreSQL's FATAL ends it). */
  protocolViolation = false

  private out(raw: Uint8Array, moreInput: () => boolean): void {
    if (this.gone) return
    let chunk = raw
    if (this.copyFailed) {
      chunk = this.copyFailed.filter(raw)
      if (chunk.length === 0) return
    }
    if (this.fatalFilter || this.fatal.pending()) {
      this.fatalFilter ??= this.fatal.filter()
      chunk = this.fatalFilter.filter(raw)
      if (chunk.length === 0) return
    }
    this.pending.push(chunk === raw ? this.keep(chunk) : chunk)
    this.pendingBytes += chunk.length
    // hold the last flush of a batch: it leaves with the end of the exec, in the same message
    const explicit = chunk.length < SEND_BUFFER
    if (
      this.pendingBytes >= BATCH ||
      (explicit && moreInput()) ||
      (explicit && trailingReadyStatus(chunk) === null)
    ) {
      this.flush()
      if (Atomics.load(this.ctl, CTL.OUT_INFLIGHT) > OUT_HIGH_WATER) this.waitForClient()
    }
  }

  /** bytes of `stage` holding this exec's pending chunks */
  private staged = 0

  /** A copy of a chunk that must outlive the write callback. */
  private keep(chunk: Uint8Array): Uint8Array {
    const end = this.staged + chunk.length
    if (end > stage.length) return chunk.slice()
    const kept = stage.subarray(this.staged, end)
    kept.set(chunk)
    this.staged = end
    return kept
  }

  /** Send pending output (and consumed input) to the main thread, as one frame (channel/frames.ts). */
  private flush(force = false): void {
    if (!force && this.pendingBytes === 0 && this.consumedBytes === 0) return
    const bytes = this.gone ? 0 : this.pendingBytes
    if (bytes > 0) Atomics.add(this.ctl, CTL.OUT_INFLIGHT, bytes)
    const parts = bytes > 0 ? this.pending : []
    const f = outputFrame(this.sid, parts, bytes, this.consumedBytes, this.terminate, spare)
    this.pending.length = 0
    this.pendingBytes = 0
    this.staged = 0
    this.consumedBytes = 0
    // small results are cheaper to copy than to transfer (detaching and re-creating a backing store)
    if (f.length > TRANSFER_FROM) this.post(f, [f.buffer as ArrayBuffer])
    else {
      this.post(f)
      spare = f
    }
  }

  /** Block until the main thread has handed enough output to the kernel (or the client is gone). */
  private waitForClient(): void {
    Atomics.store(this.ctl, CTL.OUT_WAITING, 1)
    try {
      for (;;) {
        const seen = Atomics.load(this.ctl, CTL.WAKE)
        if (Atomics.load(this.ctl, CTL.OUT_INFLIGHT) <= OUT_LOW_WATER) return
        this.drain()
        if (this.closing()) {
          this.gone = true
          return
        }
        Atomics.wait(this.ctl, CTL.WAKE, seen, WAIT_MS)
      }
    } finally {
      Atomics.store(this.ctl, CTL.OUT_WAITING, 0)
    }
  }

  /** The backend wants more COPY data: take the session's next input, waiting for it if need be. */
  private more(): Uint8Array {
    this.flush()
    if (this.violationPending !== undefined) {
      this.copyFailed = new CopyFailOutput(this.violationPending)
      this.protocolViolation = true
      this.violationPending = undefined
      return copyFail('protocol violation during COPY from stdin')
    }
    const rest = this.takeLeftover()
    if (rest) return this.checked(rest)
    for (;;) {
      const seen = Atomics.load(this.ctl, CTL.WAKE)
      this.drain()
      const i = this.queue.findIndex((m) => m.t === 'input' && m.sid === this.sid)
      const c = this.queue.findIndex((m) => m.t === 'session-close' && m.sid === this.sid)
      if (i >= 0 && (c < 0 || i < c)) {
        const m = this.queue.splice(i, 1)[0] as { data: Uint8Array }
        this.consumedBytes += m.data.length
        return this.checked(m.data)
      }
      if (c >= 0 || this.gone) {
        // PostgreSQL would report "unexpected EOF on client connection": end the COPY with an error
        this.gone = true
        return copyFail('client disconnected during COPY')
      }
      // PostgreSQL honours a cancel while it waits for COPY data (ProcessClientReadInterrupt)
      if (this.cancelPending()) {
        this.copyFailed = new CopyFailOutput(null)
        return copyFail('canceling statement due to user request')
      }
      Atomics.wait(this.ctl, CTL.WAKE, seen, WAIT_MS)
    }
  }

  /**
   * copyviolation.ts: the backend must never read a message COPY FROM STDIN refuses (its FATAL would end
   * the backend every session shares); what came before it runs, it and the rest of the input are dropped.
   */
  private checked(data: Uint8Array): Uint8Array {
    const { bad, end } = copyScan(data)
    if (bad) {
      this.violationPending = bad.type
      if (bad.at > 0) return data.subarray(0, bad.at)
      return this.more()
    }
    // after CopyDone/CopyFail: the rest is read through here too (a Query's next COPY checks it again),
    // or runs as the exec's next piece (runner.ts)
    if (end < data.length) this.leftover = data.subarray(end)
    return end < data.length ? data.subarray(0, end) : data
  }

  private closing(): boolean {
    return this.queue.some((m) => m.t === 'session-close' && m.sid === this.sid)
  }

  /**
   * Messages to send just before the exec's last ReadyForQuery, if that one has not left yet (async.c: a
   * backend going idle sends pending notifications before ReadyForQuery). False if it has left.
   */
  beforeReady(parts: Uint8Array[]): boolean {
    const last = this.pending.at(-1)
    if (this.gone || !last || trailingReadyStatus(last) === null) return false
    const n = last.length
    this.pending[this.pending.length - 1] = last.subarray(0, n - 6)
    this.pending.push(...parts, last.subarray(n - 6))
    for (const p of parts) this.pendingBytes += p.length
    return true
  }

  /** End of the exec: everything pending leaves now, with the batch's input bytes marked consumed. */
  finish(consumed: number, terminate: boolean): void {
    this.consumedBytes += consumed
    this.terminate = terminate || this.protocolViolation
    this.flush(this.terminate)
  }
}
