// Runs a helper thread (helper-worker.ts) and waits for its answer.
import { Worker } from 'node:worker_threads'
import type { HelperJob, HelperResult } from './helper-worker.js'

/**
 * Run `job` in a new helper thread. A job still being made (a promise) is sent when ready: the thread
 * starts and loads its modules meanwhile (~0.1 s). If the job fails to be made, the thread is ended.
 */
export function runHelper(job: HelperJob | Promise<HelperJob>): Promise<HelperResult> {
  return new Promise((resolve, reject) => {
    const ready = job instanceof Promise ? undefined : job
    const w = new Worker(new URL('./helper-worker.js', import.meta.url), { workerData: ready })
    let answered = false
    w.once('message', (r: HelperResult) => {
      answered = true
      resolve(r)
    })
    w.once('error', reject)
    w.once('exit', (code) => {
      if (!answered) reject(new Error(`database helper thread exited (code ${code}) without an answer`))
    })
    if (job instanceof Promise)
      job.then(
        (j) => w.postMessage(j),
        (e: unknown) => {
          answered = true
          reject(e)
          void w.terminate()
        },
      )
  })
}
