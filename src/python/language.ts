// What the plpy module (src/plpy-shim) and trigger calls (src/triggers) need of the running language handler:
// declared here, below both of them, and implemented by src/plpython/runtime.ts (PlPythonRuntime), so that
// dependencies point one way — handler → triggers → plpy → this interface.
import type { TypeCatalog } from '../catalog/types.js'
import type { Arrays } from '../engine/pg/arrays.js'
import type { CatalogWatch } from '../engine/pg/catalogwatch.js'
import type { Elog } from '../engine/pg/elog.js'
import type { ErrorContextStack } from '../engine/pg/errcontext.js'
import type { Heap } from '../engine/pg/heap.js'
import type { Spi } from '../engine/pg/spi.js'
import type { Tuples } from '../engine/pg/tuples.js'
import type { CodecWriter } from './codec.js'
import type { DatumIo } from './datum.js'
import type { ErrorTuple, PythonHost } from './host.js'
import type { InputConverters } from './input.js'
import type { OutputConverters } from './output.js'
import type { Procedure, ProcedureCache } from './procedures.js'
import type { TransformMap } from './transforms.js'

/** One running PL/Python call: what plpy calls need (SPI connection, read-only mode, transaction control). */
export interface CallFrame {
  spiConnected: boolean
  readOnly: boolean
  nonatomic: boolean
  /** the running procedure (undefined for trigger calls set up elsewhere) */
  proc?: Procedure
  /** explicit plpy subtransactions open when the call began */
  subxactLevel: number
  /** a trigger call's TriggerData: registered with SPI when it connects (transition tables) */
  triggerData?: number
}

/** The language handler of one PGlite instance, as plpy and triggers use it. */
export interface PlRuntime {
  /** the client session whose statement is running */
  readonly session: number
  /**
   * Called with the text of every query a function runs or prepares (plpy.execute, prepare, cursor,
   * plcolumns), before it runs: the engine gives the session a temp schema of its own when the text may
   * create a temporary object (engine/sessions/temps.ts), as it does for a client's input.
   */
  onQueryText?: (text: string) => void
  readonly heap: Heap
  readonly elog: Elog
  readonly spi: Spi
  readonly contexts: ErrorContextStack
  readonly host: PythonHost
  readonly watch: CatalogWatch
  readonly types: TypeCatalog
  readonly tuples: Tuples
  readonly arrays: Arrays
  readonly datum: DatumIo
  /** Datum → Python */
  readonly io: InputConverters
  /** Python → Datum */
  readonly out: OutputConverters
  readonly procs: ProcedureCache
  /** the codec buffer arguments are encoded into for the native call path */
  readonly codec: CodecWriter
  /** the innermost running call (plpy operations act on it) */
  readonly frame: CallFrame | undefined
  /** point the native side at this instance's wasm memory (a grown memory is a new buffer) */
  syncMemory(): void
  /** connect SPI for `frame` on first use */
  ensureSpi(frame: CallFrame): void
  pushFrame(proc: Procedure | undefined, fcinfo: number, nonatomic?: boolean): CallFrame
  popFrame(frame: CallFrame): void
  /** call a compiled procedure with fcinfo's arguments; its result Datum */
  invoke(p: Procedure, fcinfo: number, nonatomic?: boolean): number
  /** the result descriptor the native converter is compiled from (OutputConverters.pyDesc) */
  outputDescriptor(typoid: number, typmod?: number, trf?: TransformMap): object
  /** set up the record result of `p` for this call site; its typmod (-1: not a record) */
  prepareResult(p: Procedure, fcinfo: number): number
  /** encode the arguments JS converts into the codec; their byte length */
  encodeCodecArgs(p: Procedure, fcinfo: number): number
  /** detoast varlena arguments in place before the native path reads them */
  detoastArgs(p: Procedure, fcinfo: number): void
  /** the Datum of a native call's result status */
  buildResult(p: Procedure, fcinfo: number, datum: number, status: number, typmod: number): number
  /** raise a Python error tuple as a PostgreSQL ERROR (longjmps) */
  raisePython(p: Procedure | undefined, t: ErrorTuple): never
}
