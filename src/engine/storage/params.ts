// How PGlite is started and how its initdb is run: shared by the engine's instances and the helper threads
// (which import only this, not the engine).

/**
 * PGlite's default start parameters minus `-F` (fsync off) and the `search_path=public` override:
 * PostgreSQL's own defaults apply ("$user", public), as on a real server.
 */
export const START_PARAMS = [
  '--single',
  '-O',
  '-j',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
  '-c',
  'max_parallel_maintenance_workers=0',
  '-c',
  'io_method=sync',
]

/**
 * initdb's options beyond PGlite's own (UTF8, C.UTF-8, trust): `--set` writes them into the new cluster's
 * postgresql.conf (initdb.c, PostgreSQL 16+), where ALTER SYSTEM and the file can still change them.
 * shared_buffers: initdb's probe picks 128MB, which PGlite allocates and zeroes in wasm memory at every
 * start (~130 MB resident per open database, ~0.1 s of memset); pyglite reads through the OS page cache,
 * so 16MB (and wal_buffers' automatic 512kB) serve as well. docs/performance.md has the measurements.
 */
export const INITDB_ARGS = ['--set', 'shared_buffers=16MB']
