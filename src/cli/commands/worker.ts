/** `probescale worker`: run scale-out jobs (feature shards, probe fits) from a Redis queue until stopped. */
import type { Command } from 'commander';
import { positiveIntArg, threadsArg } from '../parse.js';

export function register(program: Command): void {
  program
    .command('worker')
    .description('take scale-out jobs (feature shards, probe fits) from Redis until SIGINT/SIGTERM; see README "Scale-out"')
    .requiredOption('--redis <url>', 'the queue, redis://HOST:PORT (the coordinator\'s --redis)')
    .option('--concurrency <n>', 'jobs at once in this process', positiveIntArg, 1)
    .option('--threads <n>', 'onnxruntime threads per job', threadsArg)
    .option('--lock-ms <n>', 'job lock: a job of a worker that died is retried elsewhere after this long', positiveIntArg, 30_000)
    .action(async (opts: { redis: string; concurrency: number; threads?: number; lockMs: number; quiet?: boolean }) => {
      const { runWorker } = await import('../../distribute/worker.js');
      const r = await runWorker({ redis: opts.redis, concurrency: opts.concurrency, threads: opts.threads, lockMs: opts.lockMs, log: opts.quiet ? () => {} : undefined });
      if (!opts.quiet) process.stderr.write(`worker: ${r.jobs} jobs done, ${r.failed} failed\n`);
    });
}
