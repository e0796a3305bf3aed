// Transaction events for wrappers (multicorn2's multicorn_xact_callback / multicorn_subxact_callback):
// pre_commit before the commit (an error there aborts the transaction), commit or rollback after it,
// sub_commit / sub_rollback for subtransactions begun while an instance was in use. commit and rollback
// come after the point of no return: a failure there is a WARNING, never an ERROR (which would be a
// PANIC of the backend every session shares). Scans the executor never ended (an error, a cancel) are
// closed first, so a generator's `finally` runs when its statement fails.
import { ELEVEL, FL } from '../engine/pg/layout.js'
import { readServerOptions } from './catalog.js'
import type { FdwContext } from './context.js'
import { listItems } from './nodes.js'
import { FdwPython } from './python.js'

const XACT = { COMMIT: 0, ABORT: 2, PRE_COMMIT: 5 } as const
const SUBXACT = { ABORT_SUB: 2, PRE_COMMIT_SUB: 3 } as const

export class Transactions {
  constructor(private readonly cx: FdwContext) {}

  register(enter: <R>(body: () => R) => R): void {
    const M = this.cx.h.M
    const x = M.addFunction((event: number) => void enter(() => this.onXact(event)), 'vii')
    M._RegisterXactCallback(x, 0)
    const s = M.addFunction((event: number) => void enter(() => this.onSubXact(event)), 'viiii')
    M._RegisterSubXactCallback(s, 0)
  }

  private warn(t: unknown[]): void {
    this.cx.rt.elog.report(ELEVEL.WARNING, FdwPython.message(t as never), {
      detail: (t[2] as string) ?? null,
    })
  }

  private onXact(event: number): void {
    const cx = this.cx
    if (event !== XACT.COMMIT && event !== XACT.ABORT && event !== XACT.PRE_COMMIT) return
    if (!cx.py.touched) return
    const sid = cx.rt.session
    if (event === XACT.PRE_COMMIT) {
      cx.py.call('xact', sid, 'pre_commit')
      return
    }
    cx.py.touched = false
    for (const id of [...cx.liveScans]) {
      cx.liveScans.delete(id)
      const e = cx.py.errorOf(cx.py.tryCall('drop_scan', id))
      if (e) this.warn(e)
    }
    const e = cx.py.errorOf(cx.py.tryCall('xact', sid, event === XACT.COMMIT ? 'commit' : 'rollback'))
    if (e) this.warn(e)
  }

  private onSubXact(event: number): void {
    const cx = this.cx
    if ((event !== SUBXACT.ABORT_SUB && event !== SUBXACT.PRE_COMMIT_SUB) || !cx.py.touched) return
    const level = cx.h.M._GetCurrentTransactionNestLevel() as number
    const sid = cx.rt.session
    if (event === SUBXACT.PRE_COMMIT_SUB) cx.py.call('subxact', sid, 'commit', level)
    else {
      const e = cx.py.errorOf(cx.py.tryCall('subxact', sid, 'rollback', level))
      if (e) this.warn(e)
    }
  }
}

const LIST_TYPE = ['', 'limit', 'except'] as const

/** ImportForeignSchema(stmt, serverOid): the CREATE FOREIGN TABLE commands import_schema describes. */
export function importSchema(cx: FdwContext, stmt: number, serverOid: number): number {
  const h = cx.h
  const M = h.M
  const str = (off: number) => h.str(h.u32at(stmt + off)) ?? ''
  const options: Record<string, string> = {}
  for (const d of listItems(h, h.u32at(stmt + FL.ifs_options))) {
    const a = h.u32at(d + FL.defelem_arg)
    options[h.str(h.u32at(d + FL.defelem_defname)) ?? ''] = a
      ? (h.str(h.u32at(a + FL.string_sval)) ?? '')
      : ''
  }
  const req = {
    server: str(FL.ifs_server_name),
    remote_schema: str(FL.ifs_remote_schema),
    local_schema: str(FL.ifs_local_schema),
    restriction: LIST_TYPE[h.u32at(stmt + FL.ifs_list_type)] || null,
    tables: listItems(h, h.u32at(stmt + FL.ifs_table_list)).map((rv) =>
      h.str(h.u32at(rv + FL.rangevar_relname)),
    ),
    server_options: readServerOptions(cx.rt.spi, serverOid),
    options,
  }
  const stmts = cx.py.call('import_schema', JSON.stringify(req)) as string[]
  let list = 0
  for (const s of stmts) list = M._lappend(list, h.pstrdup(s)) as number
  return list
}
