// File sizes for Emscripten's NODEFS without an fstat(2) per lseek(SEEK_END). PostgreSQL asks a relation's
// size that way (md.c _mdnblocks → FileSize → lseek SEEK_END) at every sequential scan's start and every
// planning of a query, and NODEFS answers each with fs.fstatSync: measured ~11% of a prepared primary-key
// lookup through plpy.execute (docs/performance.md). The engine holds the data directory's lock, so every
// change of a file's size while it runs goes through NODEFS itself: a write (pwrite, O_APPEND, msync) can
// only grow the file to the end of what it wrote, and a truncate (path or descriptor) forgets the size.
import type { Extension } from '@electric-sql/pglite'
import type { PgModule } from '../pg/heap.js'

/** Emscripten's FS node of one file (nodes are shared by every descriptor open on the same path). */
type FsNode = object
interface Stream {
  node: FsNode & { mode: number }
  position: number
}
interface NodeFs {
  stream_ops: {
    llseek(stream: Stream, offset: number, whence: number): number
    write(stream: Stream, buffer: Uint8Array, offset: number, length: number, position?: number): number
    setattr(stream: Stream, attr: { size?: number }): void
  }
  node_ops: { setattr(node: FsNode, attr: { size?: number }): void }
}

const SEEK_END = 2

/** A PGlite extension that keeps each open file's size, learned by one fstat and kept by its writes. */
export function nodefsSizes(): Extension {
  return {
    name: 'pyglite-sizes',
    setup: async (_pg, opts: { preRun?: Array<(mod: PgModule) => void> }) => {
      opts.preRun = [...(opts.preRun ?? []), (mod: PgModule) => keepSizes(mod)]
      return { emscriptenOpts: opts }
    },
  }
}

function keepSizes(mod: PgModule): void {
  const nodefs = mod.NODEFS as NodeFs | undefined
  const isFile = (mod.FS as { isFile?: (mode: number) => boolean } | undefined)?.isFile
  if (!nodefs?.stream_ops?.llseek || !nodefs.node_ops?.setattr || !isFile)
    throw new Error('PGlite has no NODEFS (unsupported PGlite build?)')
  const sizes = new WeakMap<FsNode, number>()
  const ops = nodefs.stream_ops
  const { llseek, write, setattr } = ops
  ops.llseek = (stream, offset, whence) => {
    if (whence !== SEEK_END || !isFile(stream.node.mode)) return llseek(stream, offset, whence)
    let size = sizes.get(stream.node)
    if (size === undefined) {
      size = llseek(stream, 0, SEEK_END) // NODEFS: fstat(2)
      sizes.set(stream.node, size)
    }
    const position = size + offset
    if (position < 0) return llseek(stream, offset, whence) // NODEFS raises EINVAL
    return position
  }
  ops.write = (stream, buffer, offset, length, position) => {
    let written: number
    try {
      written = write(stream, buffer, offset, length, position)
    } catch (e) {
      sizes.delete(stream.node) // a short write may have grown the file anyway (ENOSPC part-way)
      throw e
    }
    const known = sizes.get(stream.node)
    // FS.write passes the stream's position when the call has none (O_APPEND seeked to the end first)
    const end = (position ?? stream.position) + written
    if (known !== undefined && end > known) sizes.set(stream.node, end)
    return written
  }
  ops.setattr = (stream, attr) => {
    sizes.delete(stream.node)
    setattr(stream, attr)
  }
  const nodeSetattr = nodefs.node_ops.setattr
  nodefs.node_ops.setattr = (node, attr) => {
    sizes.delete(node)
    nodeSetattr(node, attr)
  }
}
