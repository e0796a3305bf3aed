// WITH HOLD cursors per session. PostgreSQL keeps portals by name in one hash table per backend
// (portalmem.c PortalHashTable); after a transaction only holdable portals are left in it. So at a switch
// between sessions (outside any transaction) the outgoing session's held portals are taken out of the table
// and the incoming session's put back: each sees, fetches, closes and names only its own (pg_cursors, CLOSE
// ALL and DISCARD ALL included). Only sessions whose input mentioned "hold" are looked at.
import type { Heap } from '../pg/heap.js'
import type { EngineSession } from './session.js'

/** PortalHashEnt (portalmem.c): char portalname[MAX_PORTALNAME_LEN = NAMEDATALEN]; Portal portal */
const NAME_LEN = 64
const ENT_PORTAL = 64
/** PortalData's first field: const char *name, which points at its hash entry's key */
const PORTAL_NAME = 0
/** hsearch.h HASHACTION */
const HASH_FIND = 0
const HASH_ENTER = 1
const HASH_REMOVE = 2
/** HASH_SEQ_STATUS (hsearch.h) fits in this, on wasm32 */
const SEQ_STATUS_SIZE = 64

/** Whether an input may declare a WITH HOLD cursor: "hold", any case, in its bytes. */
export function mentionsHold(data: Uint8Array): boolean {
  for (let i = 0; i + 3 < data.length; i++)
    if (
      (data[i]! | 0x20) === 0x68 &&
      (data[i + 1]! | 0x20) === 0x6f &&
      (data[i + 2]! | 0x20) === 0x6c &&
      (data[i + 3]! | 0x20) === 0x64
    )
      return true
  return false
}

export interface HeldPortal {
  name: Uint8Array
  portal: number
}

export class HeldPortals {
  private readonly scratch: number
  private readonly seq: number

  constructor(
    private readonly heap: Heap,
    /** the address of PortalHashTable (pg/statics.ts) */
    private readonly tableAddr: number,
  ) {
    this.scratch = heap.M._malloc(NAME_LEN + 4) as number
    this.seq = heap.M._malloc(SEQ_STATUS_SIZE) as number
  }

  private table(): number {
    return this.heap.i32at(this.tableAddr)
  }

  /** Session s's turn is over (no transaction open): its portals leave the table. */
  moveOut(s: EngineSession): void {
    if (!s.mayHold) return
    const M = this.heap.M
    const table = this.table()
    if (!(M._hash_get_num_entries(table) as number)) return
    const taken: HeldPortal[] = []
    M._hash_seq_init(this.seq, table)
    for (let e = M._hash_seq_search(this.seq) as number; e; e = M._hash_seq_search(this.seq) as number) {
      this.heap.refresh()
      taken.push({ name: this.heap.u8.slice(e, e + NAME_LEN), portal: this.heap.i32at(e + ENT_PORTAL) })
    }
    for (const p of taken) {
      this.heap.refresh()
      this.heap.u8.set(p.name, this.scratch)
      M._hash_search(table, this.scratch, HASH_REMOVE, 0)
    }
    s.heldPortals.push(...taken)
  }

  /**
   * The holder's unnamed portal, taken out of the table while other sessions' work runs beside its idle
   * transaction (Backend.aside): their simple queries and Binds replace the unnamed portal, and a client
   * holds one suspended between Executes (a cursor read in row batches). Null if there is none.
   */
  takeUnnamed(): HeldPortal | null {
    const M = this.heap.M
    const table = this.table()
    this.heap.refresh()
    this.heap.u8.fill(0, this.scratch, this.scratch + NAME_LEN)
    const e = M._hash_search(table, this.scratch, HASH_FIND, 0) as number
    if (!e) return null
    const p = { name: new Uint8Array(NAME_LEN), portal: this.heap.i32at(e + ENT_PORTAL) }
    M._hash_search(table, this.scratch, HASH_REMOVE, 0)
    return p
  }

  /** Put the holder's unnamed portal back (the work beside left none: its savepoint was rolled back). */
  putBack(p: HeldPortal): boolean {
    const M = this.heap.M
    const table = this.table()
    this.heap.refresh()
    this.heap.u8.fill(0, this.scratch, this.scratch + NAME_LEN + 4)
    if (M._hash_search(table, this.scratch, HASH_FIND, 0)) return false
    const e = M._hash_search(table, this.scratch, HASH_ENTER, this.scratch + NAME_LEN) as number
    this.heap.refresh()
    this.heap.i32[(e + ENT_PORTAL) >> 2] = p.portal
    this.heap.i32[(p.portal + PORTAL_NAME) >> 2] = e
    return true
  }

  /** Session s's turn starts: its portals are put back (each one's name pointing at its new entry). */
  moveIn(s: EngineSession): void {
    if (s.heldPortals.length === 0) return
    const M = this.heap.M
    const table = this.table()
    for (const p of s.heldPortals.splice(0)) {
      this.heap.refresh()
      this.heap.u8.set(p.name, this.scratch)
      const e = M._hash_search(table, this.scratch, HASH_ENTER, this.scratch + NAME_LEN) as number
      this.heap.refresh()
      this.heap.i32[(e + ENT_PORTAL) >> 2] = p.portal
      this.heap.i32[(p.portal + PORTAL_NAME) >> 2] = e
    }
  }
}
