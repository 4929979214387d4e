/** CoNLL column files (CoNLL-2003 NER, CoNLL-2000 chunking): one "WORD col col ..." line per token. */
import { DataError, lines } from './read.js';

export function readConllColumns(path: string, column: number, minColumns: number): { words: string[]; labels: string[] }[] {
  const out: { words: string[]; labels: string[] }[] = [];
  let words: string[] = [];
  let labels: string[] = [];
  const flush = () => {
    if (words.length) out.push({ words, labels });
    words = [];
    labels = [];
  };
  lines(path).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return flush();
    if (line.startsWith('-DOCSTART-')) return flush();
    const f = line.split(/\s+/);
    if (f.length < minColumns) throw new DataError(path, i + 1, `expected ${minColumns} space-separated columns, found ${f.length}`, 'each token line needs the word and its tags');
    words.push(f[0]);
    labels.push(f[column]);
  });
  flush();
  if (!out.length) throw new DataError(path, undefined, 'no sentences');
  return out;
}
