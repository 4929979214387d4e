/** Small argument parsers shared by commands; a bad value is a usage error (exit 2), not a crash. */
import { InvalidArgumentError } from 'commander';
import { Option } from 'commander';
import { maxThreads } from '../util/threads.js';
import { PRECISIONS } from '../engine/graph.js';

export function intArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

/** A count that must be at least 1 (bootstrap resamples, training units, ...): 0 would mean "nothing" and crash later. */
export function positiveIntArg(value: string): number {
  const n = intArg(value);
  if (n < 1) throw new InvalidArgumentError(`expected an integer of at least 1, got "${value}"`);
  return n;
}

/** onnxruntime threads: 1..4 per core (it starts every thread it is asked for; 9999 never finished starting). */
export function threadsArg(value: string): number {
  const n = intArg(value);
  if (n < 1 || n > maxThreads()) throw new InvalidArgumentError(`expected 1 to ${maxThreads()} threads (4 per core), got "${value}"`);
  return n;
}

/** A comma-separated list of layer indices; empty entries ("0,,2", ",") are refused, not skipped. */
export function intListArg(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw new InvalidArgumentError(`expected comma-separated integers like 0,2,5 with no empty entries, got "${value}"`);
  return parts.map((s) => intArg(s));
}

/** A comma-separated list of names (tasks, budgets, weights): empty entries are refused. */
export function listArg(value: string): string {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw new InvalidArgumentError(`expected a comma-separated list with no empty entries, got "${value}"`);
  return value;
}

/** --precision for every command that runs a model: int8 = int8 linear-layer weights, activations quantized per row (token; per batch for QAttention's q/k/v). */
export function precisionOption(): Option {
  return new Option('--precision <p>', 'weight precision of the linear layers (int8: onnxruntime dynamic quantization)').choices([...PRECISIONS]).default('fp32');
}
