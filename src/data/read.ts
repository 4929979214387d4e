/** Reading data files: plain or gzipped text, line by line with 1-based line numbers for errors. */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ProbescaleError } from '../util/errors.js';

/** A data problem at a place in a file. */
export class DataError extends ProbescaleError {
  constructor(file: string, line: number | undefined, message: string, fix?: string) {
    super(line === undefined ? message : `line ${line}: ${message}`, { file, fix });
  }
}

/** `path` or `path.gz`, whichever exists; BOM stripped. */
export function readText(path: string): string {
  const candidates = path.endsWith('.gz') ? [path] : [path, `${path}.gz`];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new DataError(path, undefined, 'file not found', 'check the path in the task spec');
  const raw = readFileSync(found);
  const bytes = found.endsWith('.gz') ? gunzipSync(raw) : raw;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // decoding anyway would turn every bad byte into U+FFFD and probe text the user never wrote
    throw new DataError(found, undefined, 'is not UTF-8 text', 'convert it, e.g. `iconv -f latin1 -t utf-8 in > out`');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function lines(path: string): string[] {
  const text = readText(path);
  const out = text.split(/\r?\n/);
  if (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

/** Deterministic PRNG for seeded splits and subsampling. */
export { mulberry32 as rng } from '../util/random.js';
import { mulberry32 as rng } from '../util/random.js';

export function shuffled<T>(items: T[], seed: number): T[] {
  const r = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A seeded subsample of at most n items, original order kept. */
export function subsample<T>(items: T[], n: number | undefined, seed: number): T[] {
  if (n === undefined || items.length <= n) return items;
  const keep = new Set(shuffled(items.map((_, i) => i), seed).slice(0, n));
  return items.filter((_, i) => keep.has(i));
}
