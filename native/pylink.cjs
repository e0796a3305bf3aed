// Prints the linker flags for the embedded libpython, from the python3-config first on PATH — the same
// one node-calls-python's build used in this npm run, so both addons link the same libpython.
const { execSync } = require('node:child_process')

let flags
try {
  flags = execSync('python3-config --ldflags --embed').toString().trim()
} catch {
  flags = execSync('python3-config --ldflags').toString().trim()
}
const rpaths = flags
  .split(/\s+/)
  .filter((f) => f.startsWith('-L'))
  .map((f) => `-Wl,-rpath,${f.slice(2)}`)
process.stdout.write([flags, ...rpaths].join(' '))
