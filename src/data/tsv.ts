/** GLUE-style TSV: columns by header name or 0-based index; every row validated. */
import { DataError, lines } from './read.js';

export interface TsvColumns {
  text: string | number;
  textB?: string | number;
  label: string | number;
  /** false for header-less files such as CoLA */
  header?: boolean;
}

export function readTsv(path: string, cols: TsvColumns): { text: string; textB?: string; label: string }[] {
  const rows = lines(path);
  const hasHeader = cols.header ?? true;
  if (rows.length <= (hasHeader ? 1 : 0)) throw new DataError(path, undefined, 'no data rows', 'the file is empty or holds only a header');
  const header = hasHeader ? rows[0].split('\t').map((h) => h.trim()) : [];
  const index = (c: string | number, what: string): number => {
    if (typeof c === 'number') return c;
    const i = header.indexOf(c);
    if (i < 0) throw new DataError(path, 1, `no column "${c}" (${what}) among the ${header.length} header columns`, 'name an existing column or give its 0-based index');
    return i;
  };
  const ti = index(cols.text, 'text');
  const bi = cols.textB === undefined ? -1 : index(cols.textB, 'second text');
  const li = index(cols.label, 'label');
  const need = Math.max(ti, bi, li) + 1;
  const out: { text: string; textB?: string; label: string }[] = [];
  rows.forEach((row, i) => {
    if (hasHeader && i === 0) return;
    if (row.trim() === '') return;
    const f = row.split('\t');
    const lineNo = i + 1;
    if (f.length < need) throw new DataError(path, lineNo, `expected at least ${need} tab-separated columns, found ${f.length}`, 'fix the row or remove it');
    const label = f[li].trim();
    if (label === '') throw new DataError(path, lineNo, 'empty label', 'every row needs a label');
    const text = f[ti].trim();
    if (text === '') throw new DataError(path, lineNo, 'empty text', 'every row needs a text');
    out.push(bi >= 0 ? { text, textB: f[bi].trim(), label } : { text, label });
  });
  return out;
}
