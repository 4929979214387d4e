/**
 * onnxruntime's own default (intraOpNumThreads 0) ran single-threaded on this 2-core VM (measured: the probe
 * objective took 7.6 ms per evaluation with 0, 7.0 with 1, 4.0 with 2), so every session asks for the cores
 * Node sees unless the caller says otherwise.
 */
import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';

export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * The most threads a session may ask for. onnxruntime starts every thread it is told to (--threads 9999
 * never finished starting); more than a few per core only adds contention, so more than 4 per core is refused.
 */
export function maxThreads(): number {
  return Math.max(4, 4 * availableParallelism());
}

/** A thread count from the user: an integer in 1..maxThreads(), else a ProbescaleError naming the flag. */
export function checkThreads(n: number | undefined, flag = '--threads'): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1 || n > maxThreads()) {
    throw new UsageError(`${flag} must be an integer from 1 to ${maxThreads()} (this machine has ${availableParallelism()} cores), got ${n}`, { fix: `omit ${flag} to use all cores` });
  }
  return n;
}
