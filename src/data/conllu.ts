/**
 * CoNLL-U (Universal Dependencies): 10 tab-separated columns per word line, comments start with '#',
 * sentences end at a blank line. Multiword-token ranges (1-2) and empty nodes (1.1) are skipped: probes
 * work on syntactic words.
 */
import { DataError, lines } from './read.js';

export interface UdWord {
  id: number;
  form: string;
  lemma: string;
  upos: string;
  xpos: string;
  feats: Record<string, string>;
  head: number;
  deprel: string;
}

export interface UdSentence {
  words: UdWord[];
  text?: string;
  /** line number of the sentence's first word, for error messages */
  line: number;
}

export function readConllu(path: string): UdSentence[] {
  const out: UdSentence[] = [];
  let words: UdWord[] = [];
  let text: string | undefined;
  let start = 0;
  const flush = (lineNo: number) => {
    if (!words.length) return;
    words.forEach((w, i) => {
      if (w.id !== i + 1) throw new DataError(path, start, `word ids must run 1..n, found ${w.id} at position ${i + 1}`);
      if (w.head < 0 || w.head > words.length) throw new DataError(path, start, `head ${w.head} of word ${w.id} is outside the sentence (1..${words.length})`);
    });
    out.push({ words, text, line: start });
    words = [];
    text = undefined;
    void lineNo;
  };
  lines(path).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trimEnd();
    if (line === '') return flush(lineNo);
    if (line.startsWith('#')) {
      const m = /^# text = (.*)$/.exec(line);
      if (m) text = m[1];
      return;
    }
    const f = line.split('\t');
    if (f.length !== 10) throw new DataError(path, lineNo, `expected 10 tab-separated CoNLL-U columns, found ${f.length}`, 'CoNLL-U needs ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC, tab-separated');
    if (/^\d+-\d+$/.test(f[0]) || /^\d+\.\d+$/.test(f[0])) return;
    if (!/^\d+$/.test(f[0])) throw new DataError(path, lineNo, `word ID (column 1) is not a number`);
    if (!words.length) start = lineNo;
    const head = f[6] === '_' ? 0 : Number(f[6]);
    if (!Number.isInteger(head)) throw new DataError(path, lineNo, `HEAD (column 7) is not a number`);
    const feats: Record<string, string> = {};
    if (f[5] !== '_') for (const kv of f[5].split('|')) {
      const [k, v] = kv.split('=');
      feats[k] = v;
    }
    words.push({ id: Number(f[0]), form: f[1], lemma: f[2], upos: f[3], xpos: f[4], feats, head, deprel: f[7] });
  });
  flush(0);
  if (!out.length) throw new DataError(path, undefined, 'no sentences', 'the file is empty or not CoNLL-U');
  return out;
}
