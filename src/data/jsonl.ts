/** JSON Lines: one JSON object per line; blank lines allowed. */
import { DataError, lines } from './read.js';

export function readJsonl(path: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  lines(path).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      out.push(v as Record<string, unknown>);
    } catch (err) {
      throw new DataError(path, i + 1, `not a JSON object (${(err as Error).message})`, 'each line must be one JSON object');
    }
  });
  if (!out.length) throw new DataError(path, undefined, 'no records');
  return out;
}
