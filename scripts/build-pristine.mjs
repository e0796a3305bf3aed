#!/usr/bin/env node
// Run by `npm run prepare` (after the build): makes the pristine cluster a new data directory is copied from
// (src/databases/pristine.ts), so that even the first server start after installing skips initdb. Never
// fails the installation: without it, the first server that needs the cluster builds it.
const { ensurePristine } = await import('../dist/databases/pristine.js')
const t0 = performance.now()
try {
  const dir = await ensurePristine()
  process.stderr.write(
    `pyglite: pristine cluster ready in ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  )
} catch (e) {
  process.stderr.write(
    `pyglite: could not build the pristine cluster now (the first server start will): ${e.message}\n`,
  )
}
process.exit(0)
