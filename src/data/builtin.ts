/**
 * Built-in tasks over the bundled real datasets. Where a dataset has no dev (or test) split, one is carved
 * from train with a fixed seed and the description says so. `maxTrain` / `maxEval` (dev and test) / `maxTest` subsample units
 * (sentences, pairs) deterministically for quick runs.
 */
import { ProbescaleError, UsageError } from '../util/errors.js';
import { readConllu, type UdSentence } from './conllu.js';
import { readConllColumns } from './conll.js';
import { dataFile } from './paths.js';
import { lines, shuffled, subsample } from './read.js';
import * as senteval from './senteval.js';
import { readTsv } from './tsv.js';
import type { EdgeExample, Example, Metric, Task, TaskKind, TaskSplits } from './types.js';

export interface LoadOptions {
  maxTrain?: number;
  maxEval?: number;
  /** test units only (default: maxEval); lets a run select on a small dev sample and report on the whole test split */
  maxTest?: number;
  seed?: number;
}

const SPLIT_SEED = 13;

/** Carve `frac` of train off as dev, seeded; returns [train, dev]. */
function carve<T>(items: T[], frac = 0.1): [T[], T[]] {
  const idx = shuffled(items.map((_, i) => i), SPLIT_SEED);
  const nDev = Math.round(items.length * frac);
  const dev = new Set(idx.slice(0, nDev));
  return [items.filter((_, i) => !dev.has(i)), items.filter((_, i) => dev.has(i))];
}

function labelsOf(splits: TaskSplits, kind: TaskKind): string[] {
  const set = new Set<string>();
  for (const ex of [...splits.train, ...splits.dev, ...splits.test]) {
    if (kind === 'token') (ex as { labels: string[] }).labels.forEach((l) => set.add(l));
    else if (kind === 'edge') (ex as EdgeExample).edges.forEach((e) => set.add(e.label));
    else set.add((ex as { label: string }).label);
  }
  return [...set].sort();
}

interface Def {
  kind: TaskKind;
  metric: Metric;
  description: string;
  source: string;
  load: () => TaskSplits;
}

const ud = (() => {
  let cache: { train: UdSentence[]; dev: UdSentence[]; test: UdSentence[] } | undefined;
  return () =>
    (cache ??= {
      train: readConllu(dataFile('ud-en-ewt', 'en_ewt-ud-train.conllu')),
      dev: readConllu(dataFile('ud-en-ewt', 'en_ewt-ud-dev.conllu')),
      test: readConllu(dataFile('ud-en-ewt', 'en_ewt-ud-test.conllu')),
    });
})();

const udTagging = (field: 'upos' | 'xpos') => () => {
  const u = ud();
  const conv = (ss: UdSentence[]) => ss.map((s) => ({ words: s.words.map((w) => w.form), labels: s.words.map((w) => w[field]) }));
  return { train: conv(u.train), dev: conv(u.dev), test: conv(u.test) };
};

const udEdges = () => {
  const u = ud();
  const conv = (ss: UdSentence[]): EdgeExample[] =>
    ss.map((s) => ({
      words: s.words.map((w) => w.form),
      edges: s.words.filter((w) => w.head > 0).map((w) => ({ span1: [w.id - 1, w.id] as [number, number], span2: [w.head - 1, w.head] as [number, number], label: w.deprel.split(':')[0] })),
    }));
  return { train: conv(u.train), dev: conv(u.dev), test: conv(u.test) };
};

const udSentence = (make: (s: UdSentence[], which: number) => Example[]) => () => {
  const u = ud();
  return { train: make(u.train, 0), dev: make(u.dev, 1), test: make(u.test, 2) };
};

const UD_SOURCE = 'UD English-EWT (CC BY-SA 4.0), data/ud-en-ewt';
const TREC_NAMES = ['ABBR', 'ENTY', 'DESC', 'HUM', 'LOC', 'NUM'];

const DEFS: Record<string, Def> = {
  sst2: {
    kind: 'sentence', metric: 'accuracy', source: 'SST-2 (GLUE; MIT repo, cite Socher et al. 2013), data/sst2',
    description: 'binary sentiment of movie-review sentences and phrases; test = GLUE SST-2 dev (872)',
    load: () => {
      const cols = { text: 'sentence', label: 'label' };
      const name = (r: { text: string; label: string }) => ({ text: r.text, label: r.label === '1' ? 'positive' : 'negative' });
      return { train: readTsv(dataFile('sst2', 'train.tsv'), cols).map(name), dev: readTsv(dataFile('sst2', 'dev.tsv'), cols).map(name), test: readTsv(dataFile('sst2', 'test.tsv'), cols).map(name) };
    },
  },
  cola: {
    kind: 'sentence', metric: 'mcc', source: 'CoLA (authors\' terms, data/cola/README.cola), data/cola',
    description: 'grammatical acceptability; dev = 10% of in-domain train (seed 13), test = in-domain + out-of-domain dev (1,042; no public test labels)',
    load: () => {
      const cols = { text: 3, label: 1, header: false };
      const name = (r: { text: string; label: string }) => ({ text: r.text, label: r.label === '1' ? 'acceptable' : 'unacceptable' });
      const [train, dev] = carve(readTsv(dataFile('cola', 'in_domain_train.tsv'), cols).map(name));
      return { train, dev, test: [...readTsv(dataFile('cola', 'in_domain_dev.tsv'), cols), ...readTsv(dataFile('cola', 'out_of_domain_dev.tsv'), cols)].map(name) };
    },
  },
  mrpc: {
    kind: 'sentence-pair', metric: 'accuracy', source: 'MRPC (MSR terms), data/mrpc',
    description: 'paraphrase detection for sentence pairs; dev = 10% of train (seed 13), test = MRPC test (1,725)',
    load: () => {
      const cols = { text: '#1 String', textB: '#2 String', label: 'Quality' };
      const name = (r: { text: string; textB?: string; label: string }) => ({ text: r.text, textB: r.textB!, label: r.label === '1' ? 'paraphrase' : 'different' });
      const [train, dev] = carve(readTsv(dataFile('mrpc', 'train.txt'), cols).map(name));
      return { train, dev, test: readTsv(dataFile('mrpc', 'test.txt'), cols).map(name) };
    },
  },
  rte: {
    kind: 'sentence-pair', metric: 'accuracy', source: 'RTE (GLUE), data/rte',
    description: 'textual entailment; dev = 10% of train (seed 13), test = GLUE RTE dev (277)',
    load: () => {
      const cols = { text: 'sentence1', textB: 'sentence2', label: 'label' };
      const name = (r: { text: string; textB?: string; label: string }) => ({ text: r.text, textB: r.textB!, label: r.label === '0' ? 'entailment' : 'not_entailment' });
      const [train, dev] = carve(readTsv(dataFile('rte', 'train.tsv'), cols).map(name));
      return { train, dev, test: readTsv(dataFile('rte', 'dev.tsv'), cols).map(name) };
    },
  },
  trec: {
    kind: 'sentence', metric: 'accuracy', source: 'TREC (Li & Roth 2002; MIT repo), data/trec',
    description: 'question type, 6 coarse classes; dev = 10% of train (seed 13), test = TREC test (500)',
    load: () => {
      const read = (f: string) =>
        lines(dataFile('trec', f)).filter((l) => l.trim()).map((l) => {
          const sp = l.indexOf(' ');
          return { text: l.slice(sp + 1).trim(), label: TREC_NAMES[Number(l.slice(0, sp))] ?? l.slice(0, sp) };
        });
      const [train, dev] = carve(read('train.txt'));
      return { train, dev, test: read('test.txt') };
    },
  },
  subj: {
    kind: 'sentence', metric: 'accuracy', source: 'SUBJ (Pang & Lee 2004; MIT repo), data/subj',
    description: 'subjective vs objective sentences; no official split: seeded 80/10/10 split (seed 13)',
    load: () => {
      const all = [
        ...lines(dataFile('subj', 'subjective.txt')).map((t) => ({ text: t.trim(), label: 'subjective' })),
        ...lines(dataFile('subj', 'objective.txt')).map((t) => ({ text: t.trim(), label: 'objective' })),
      ];
      const s = shuffled(all, SPLIT_SEED);
      const n = s.length;
      return { train: s.slice(0, Math.round(0.8 * n)), dev: s.slice(Math.round(0.8 * n), Math.round(0.9 * n)), test: s.slice(Math.round(0.9 * n)) };
    },
  },
  upos: { kind: 'token', metric: 'accuracy', source: UD_SOURCE, description: 'universal part-of-speech tag of every word (17 tags)', load: udTagging('upos') },
  xpos: { kind: 'token', metric: 'accuracy', source: UD_SOURCE, description: 'Penn Treebank part-of-speech tag of every word', load: udTagging('xpos') },
  deprel: {
    kind: 'edge', metric: 'accuracy', source: UD_SOURCE,
    description: 'edge probe: universal dependency relation (subtype dropped) of every dependent-head word pair',
    load: udEdges,
  },
  ner: {
    kind: 'token', metric: 'span-f1', source: 'CoNLL-2003 (Reuters; terms of the original release), data/conll2003',
    description: 'named entities PER/ORG/LOC/MISC as IOB2 tags; scored by entity span F1',
    load: () => ({
      train: readConllColumns(dataFile('conll2003', 'train.txt'), 3, 4),
      dev: readConllColumns(dataFile('conll2003', 'valid.txt'), 3, 4),
      test: readConllColumns(dataFile('conll2003', 'test.txt'), 3, 4),
    }),
  },
  chunk: {
    kind: 'token', metric: 'span-f1', source: 'CoNLL-2000 (WSJ; terms of the original release), data/conll2000',
    description: 'syntactic chunks as IOB tags; dev = 10% of train (seed 13); scored by chunk span F1',
    load: () => {
      const [train, dev] = carve(readConllColumns(dataFile('conll2000', 'train.txt'), 2, 3));
      return { train, dev, test: readConllColumns(dataFile('conll2000', 'test.txt'), 2, 3) };
    },
  },
  length: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: sentence length in words, 6 bins', load: udSentence((s) => senteval.lengthProbe(s)) },
  depth: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: dependency tree depth, 5 bins', load: udSentence((s) => senteval.depthProbe(s)) },
  tense: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: tense of the main verb (Past/Pres)', load: udSentence((s) => senteval.tenseProbe(s)) },
  subjnum: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: number of the main clause subject', load: udSentence((s) => senteval.subjectNumberProbe(s)) },
  objnum: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: number of the main clause object', load: udSentence((s) => senteval.objectNumberProbe(s)) },
  bshift: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: were two adjacent words swapped? (seeded)', load: udSentence((s, i) => senteval.bigramShiftProbe(s, 100 + i)) },
  coordinv: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: were two coordinated clauses swapped? (seeded)', load: udSentence((s, i) => senteval.coordinationInversionProbe(s, 200 + i)) },
  somo: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: was a noun or verb replaced by another of the same frequency? (seeded)', load: udSentence((s, i) => senteval.semanticOddManOutProbe(s, ud().train, 300 + i)) },
  wc: { kind: 'sentence', metric: 'accuracy', source: UD_SOURCE, description: 'SentEval-style: which of 30 mid-frequency words does the sentence contain?', load: udSentence((s) => senteval.wordContentProbe(s, ud().train)) },
};

export function listTasks(): string[] {
  return Object.keys(DEFS);
}

export function loadTask(name: string, opts: LoadOptions = {}): Task {
  const def = DEFS[name];
  if (!def) throw new UsageError(`unknown task "${name}"; built-in tasks: ${listTasks().join(', ')}`, { fix: 'use a built-in name or a task spec file (.json/.yaml) for your own data' });
  const full = def.load();
  const seed = opts.seed ?? 0;
  const splits: TaskSplits = {
    train: subsample(full.train, opts.maxTrain, seed + 1),
    dev: subsample(full.dev, opts.maxEval, seed + 2),
    test: subsample(full.test, opts.maxTest ?? opts.maxEval, seed + 3),
  };
  return { name, kind: def.kind, metric: def.metric, labels: labelsOf(full, def.kind), splits, description: def.description, source: def.source };
}
