// How PGlite is started: shared by the engine's instances and the helper threads (which import only this,
// not the engine).

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
