/**
 * `probescale worker`: take scale-out jobs from the Redis queue until stopped. A job's lock is renewed while
 * it runs; a worker that dies (killed, machine lost) stops renewing, and after `lockMs` another worker's stalled
 * check puts the job back in the queue, where it runs again (its result is content-addressed, so a unit that
 * had already been stored is not recomputed and nothing is counted twice). SIGINT/SIGTERM finish the running
 * jobs and stop.
 */
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { connectRedis, QUEUE_NAME } from './queue.js';
import { PermanentJobError, WorkerState, workerId, type JobData, type JobReturn } from './jobs.js';
import { ProbescaleError } from '../util/errors.js';

export interface WorkerOptions {
  redis: string;
  concurrency?: number;
  threads?: number;
  /** job lock (ms): how long a dead worker's job waits before another worker retries it */
  lockMs?: number;
  log?: (line: string) => void;
  /** resolves when the worker should stop (default: SIGINT or SIGTERM) */
  until?: Promise<void>;
}

export async function runWorker(opts: WorkerOptions): Promise<{ jobs: number; failed: number }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
  const conn = await connectRedis(opts.redis);
  const state = new WorkerState(opts.threads);
  const lockMs = opts.lockMs ?? 30_000;
  let jobs = 0;
  let failed = 0;
  const worker = new Worker<JobData, JobReturn>(
    QUEUE_NAME,
    async (job: Job<JobData, JobReturn>) => {
      log(`worker ${workerId}: start ${job.data.unit} (job ${job.id}, attempt ${job.attemptsMade + 1})`);
      try {
        const r = await state.run(job.data);
        log(`worker ${workerId}: done ${job.data.unit} in ${r.seconds.toFixed(2)} s${r.reused ? ' (already in the store)' : ''}`);
        jobs++;
        return r;
      } catch (err) {
        failed++;
        const msg = `${workerId}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}`;
        log(`worker ${workerId}: FAILED ${job.data.unit}: ${msg}`);
        // inputs that cannot work fail the same way on every attempt: no retries
        if (err instanceof PermanentJobError || err instanceof ProbescaleError) throw new UnrecoverableError(msg);
        throw new Error(msg);
      }
    },
    { connection: conn, concurrency: opts.concurrency ?? 1, lockDuration: lockMs, stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: 3 },
  );
  worker.on('error', (err) => log(`worker ${workerId}: queue error: ${err.message}`));
  await worker.waitUntilReady();
  log(`worker ${workerId}: ready (queue "${QUEUE_NAME}" at ${opts.redis}, concurrency ${opts.concurrency ?? 1}, lock ${lockMs} ms)`);
  const stop = opts.until ?? new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
  await stop;
  log(`worker ${workerId}: stopping after the running jobs`);
  await worker.close();
  await state.release();
  conn.disconnect();
  return { jobs, failed };
}
