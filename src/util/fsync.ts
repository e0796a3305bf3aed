// fsync(2) of one file or directory by path: what a directory entry's creation, rename or removal needs to
// be durable (PostgreSQL's fsync_fname, fd.c), for the engine's clusters, the databases' files and backups.
import fs from 'node:fs'

export function syncPath(p: string): void {
  const fd = fs.openSync(p, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
