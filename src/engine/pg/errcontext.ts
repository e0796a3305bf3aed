// CONTEXT lines for errors and notices raised while JS code runs (elog.h ErrorContextCallback):
// "PL/Python function "f"", "while creating return value", … exactly where PL/Python pushes them.
// One callback slot serves every frame; frames are preallocated structs indexed by nesting depth.
import type { Heap } from './heap.js'
import { L } from './layout.js'

export class ErrorContextStack {
  private readonly texts: Array<string | null> = []
  private readonly structs: number[] = []
  private readonly slot: number
  private readonly fmt: number
  private readonly va: number
  /** &error_context_stack (looked up once: Module is a dictionary-mode object, slow per call) */
  private readonly stackAddr: number
  private depth = 0

  constructor(private readonly heap: Heap) {
    const M = heap.M
    this.fmt = heap.cstr('%s')
    this.va = M._malloc(8) as number
    this.stackAddr = M._error_context_stack as number
    // void callback(void *arg): arg is the frame index; must never throw into wasm
    this.slot = M.addFunction((arg: number) => {
      try {
        const text = this.texts[arg]
        if (text) {
          heap.setU32(this.va, heap.pstrdup(text))
          M._errcontext_msg(this.fmt, this.va)
        }
      } catch {
        // an error while adding context must not replace the error being reported
      }
      return undefined
    }, 'vi')
  }

  /** Push a CONTEXT line; returns a token for pop(). The line is computed lazily only if needed. */
  push(text: string): number {
    const h = this.heap
    const i = this.depth++
    let s = this.structs[i]
    if (s === undefined) {
      s = h.M._malloc(L.ecc_size) as number
      this.structs[i] = s
    }
    this.texts[i] = text
    const stackAddr = this.stackAddr
    if (h.u32.length === 0) h.refresh()
    const u32 = h.u32
    u32[(s + L.ecc_previous) >>> 2] = u32[stackAddr >>> 2]!
    u32[(s + L.ecc_callback) >>> 2] = this.slot
    u32[(s + L.ecc_arg) >>> 2] = i
    u32[stackAddr >>> 2] = s
    return i
  }

  /**
   * Forget every frame: called when no JS code of ours is on the stack any more (an ERROR that ended a
   * statement skips the pops of frames pushed outside try/finally; PostgreSQL resets its own stack).
   */
  reset(): void {
    if (this.depth === 0) return
    this.texts.fill(null)
    this.depth = 0
  }

  /** Pop the frame pushed as `token` (and any above it, if an error skipped their pops). */
  pop(token: number): void {
    const s = this.structs[token]
    if (s === undefined) return
    const h = this.heap
    const stackAddr = this.stackAddr
    // only unlink if our frame is on top: after an ERROR, PostgreSQL has already reset the stack
    if (h.u32at(stackAddr) === s) h.setU32(stackAddr, h.u32at(s + L.ecc_previous))
    this.texts[token] = null
    this.depth = token
  }
}
