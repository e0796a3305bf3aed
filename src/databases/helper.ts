// Runs a helper thread (helper-worker.ts) and waits for its answer.
import { Worker } from 'node:worker_threads'
import type { HelperJob, HelperResult } from './helper-worker.js'

export function runHelper(job: HelperJob): Promise<HelperResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./helper-worker.js', import.meta.url), { workerData: job })
    let answered = false
    w.once('message', (r: HelperResult) => {
      answered = true
      resolve(r)
    })
    w.once('error', reject)
    w.once('exit', (code) => {
      if (!answered) reject(new Error(`database helper thread exited (code ${code}) without an answer`))
    })
  })
}
