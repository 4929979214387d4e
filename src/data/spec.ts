/**
 * User tasks from data files + a small spec (JSON or YAML), no code:
 *   name: mytask
 *   kind: sentence | sentence-pair | token | edge(not from spec files yet)
 *   format: tsv | jsonl | conllu | conll
 *   files: { train: a.tsv, dev: b.tsv, test: c.tsv }   # relative to the spec file; dev optional (carved)
 *   columns: { text: sentence, textB: ..., label: label, header: true }   # tsv/jsonl fields; conll: { label: 3 }
 *   labels: [neg, pos]          # optional: inferred from train; an eval label outside it is an error
 *   metric: accuracy | macro-f1 | mcc | f1 | span-f1
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import YAML from 'yaml';
import { ProbescaleError } from '../util/errors.js';
import { readConllColumns } from './conll.js';
import { readConllu } from './conllu.js';
import { readJsonl } from './jsonl.js';
import { DataError, shuffled } from './read.js';
import { readTsv } from './tsv.js';
import type { Example, Metric, Task, TaskKind } from './types.js';

interface Spec {
  name?: string;
  kind: TaskKind;
  format: 'tsv' | 'jsonl' | 'conllu' | 'conll';
  files: { train: string; dev?: string; test: string };
  columns?: { text?: string | number; textB?: string | number; label?: string | number; header?: boolean; field?: string };
  labels?: string[];
  metric?: Metric;
}

const KINDS: TaskKind[] = ['sentence', 'sentence-pair', 'token'];
const METRICS: Metric[] = ['accuracy', 'macro-f1', 'mcc', 'f1', 'span-f1'];

function readExamples(spec: Spec, path: string, specPath: string): Example[] {
  const c = spec.columns ?? {};
  switch (spec.format) {
    case 'tsv':
      return readTsv(path, { text: c.text ?? 'text', textB: spec.kind === 'sentence-pair' ? c.textB ?? 'text_b' : undefined, label: c.label ?? 'label', header: c.header ?? true }).map((r) =>
        spec.kind === 'sentence-pair' ? { text: r.text, textB: r.textB!, label: r.label } : { text: r.text, label: r.label },
      );
    case 'jsonl':
      return readJsonl(path).map((o, i) => {
        const get = (k: string | number | undefined, d: string) => o[String(k ?? d)];
        if (spec.kind === 'token') {
          const words = get(c.text, 'words');
          const labels = get(c.label, 'labels');
          if (!Array.isArray(words) || !Array.isArray(labels) || words.length !== labels.length) throw new DataError(path, i + 1, 'token tasks need "words" and "labels" arrays of equal length');
          return { words: words.map(String), labels: labels.map(String) };
        }
        const text = get(c.text, 'text');
        const label = get(c.label, 'label');
        if (typeof text !== 'string' || label === undefined) throw new DataError(path, i + 1, `needs a string "${c.text ?? 'text'}" and a "${c.label ?? 'label'}"`);
        if (spec.kind === 'sentence-pair') return { text, textB: String(get(c.textB, 'text_b') ?? ''), label: String(label) };
        return { text, label: String(label) };
      });
    case 'conllu':
      return readConllu(path).map((s) => ({ words: s.words.map((w) => w.form), labels: s.words.map((w) => (c.field === 'xpos' ? w.xpos : c.field === 'deprel' ? w.deprel : w.upos)) }));
    case 'conll':
      return readConllColumns(path, Number(c.label ?? 1), Number(c.label ?? 1) + 1);
    default:
      throw new ProbescaleError(`unknown format "${String(spec.format)}"; use tsv, jsonl, conllu or conll`, { file: specPath });
  }
}

function labelsIn(ex: Example): string[] {
  return 'labels' in ex ? ex.labels : 'label' in ex ? [ex.label] : [];
}

export function loadTaskSpec(specPath: string, opts: { allowOutside?: boolean } = {}): Task {
  let spec: Spec;
  try {
    const text = readFileSync(specPath, 'utf8');
    spec = (specPath.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)) as Spec;
  } catch (err) {
    // first line of the parser's message only: YAML quotes the offending lines, and errors never echo file contents
    throw new ProbescaleError(`cannot read task spec (${String((err as Error).message).split('\n')[0].slice(0, 100)})`, { file: specPath, fix: 'the spec must be valid JSON or YAML' });
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new ProbescaleError('a task spec must be a JSON/YAML object with name, kind, format, files', { file: specPath });
  if (!KINDS.includes(spec.kind)) throw new ProbescaleError(`"kind" must be one of ${KINDS.join(', ')}`, { file: specPath });
  if (!spec.files?.train || !spec.files?.test) throw new ProbescaleError('"files" needs at least train and test', { file: specPath });
  const FORMATS_FOR: Record<TaskKind, string[]> = { sentence: ['tsv', 'jsonl'], 'sentence-pair': ['tsv', 'jsonl'], token: ['jsonl', 'conllu', 'conll'], edge: [] };
  if (!FORMATS_FOR[spec.kind].includes(spec.format)) throw new ProbescaleError(`kind ${spec.kind} cannot be read from format ${JSON.stringify(spec.format)}; use ${FORMATS_FOR[spec.kind].join(' or ')}`, { file: specPath, fix: spec.kind === 'token' ? 'token tasks need one label per word: jsonl {"words": [...], "labels": [...]}, conllu or conll' : 'sentence tasks read tsv or jsonl' });
  for (const [split, f] of Object.entries(spec.files)) if (typeof f !== 'string') throw new ProbescaleError(`files.${split} must be a path`, { file: specPath });
  const metric = spec.metric ?? 'accuracy';
  if (!METRICS.includes(metric)) throw new ProbescaleError(`unknown metric "${metric}"; use ${METRICS.join(', ')}`, { file: specPath });
  const base = dirname(specPath);
  const read = (f: string) => {
    const p = insideSpecFolder(base, f, specPath, opts.allowOutside);
    const ex = readExamples(spec, p, specPath);
    if (!ex.length) throw new DataError(p, undefined, 'no examples', 'the split is empty');
    return { path: p, ex };
  };
  const train = read(spec.files.train);
  let dev = spec.files.dev ? read(spec.files.dev).ex : undefined;
  let trainEx = train.ex;
  if (!dev) {
    const s = shuffled(trainEx, 13);
    const n = Math.max(1, Math.round(s.length * 0.1));
    dev = s.slice(0, n);
    trainEx = s.slice(n);
  }
  const test = read(spec.files.test);
  const labels = spec.labels ?? [...new Set(train.ex.flatMap(labelsIn))].sort();
  if (labels.length < 2) throw new ProbescaleError(`the task has ${labels.length} label(s); a probe needs at least 2 classes (every score would be a trivial 1.0)`, { file: resolve(base, spec.files.train), fix: 'use training data with at least two different labels' });
  const known = new Set(labels);
  for (const [split, file] of [[dev, spec.files.dev ?? spec.files.train], [test.ex, spec.files.test]] as const) {
    split.forEach((ex, i) => {
      for (const l of labelsIn(ex)) {
        if (!known.has(l)) throw new DataError(resolve(base, file), undefined, `example ${i + 1} has a label that is not among the ${labels.length} label(s) of the training split`, `add it to labels in ${specPath}, or fix the data`);
      }
    });
  }
  return {
    name: spec.name ?? specPath.replace(/^.*\//, '').replace(/\.(json|ya?ml)$/, ''),
    kind: spec.kind,
    labels,
    metric,
    splits: { train: trainEx, dev, test: test.ex },
    description: `user task from ${specPath}${spec.files.dev ? '' : ' (dev = 10% of train, seed 13)'}`,
    source: specPath,
  };
}

/**
 * A data path from a spec resolves inside the spec's folder (symlinks followed): a spec from elsewhere must
 * not make probescale read, probe and report on arbitrary files (../../etc/passwd) unless the user allows it.
 */
function insideSpecFolder(base: string, f: string, specPath: string, allowOutside?: boolean): string {
  const p = resolve(base, f);
  if (allowOutside) return p;
  const real = (x: string) => {
    for (const c of [x, `${x}.gz`]) {
      try {
        return realpathSync(c);
      } catch {
        // missing: the reader says so
      }
    }
    return x;
  };
  const rel = relative(real(base), real(p));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new ProbescaleError(`data file "${f}" lies outside the spec's folder`, { file: specPath, fix: 'move the data next to the spec (or below it), or pass --allow-outside to read files elsewhere' });
  }
  return p;
}

/** A built-in name or a spec file path. */
export function isSpecPath(name: string): boolean {
  return /\.(json|ya?ml)$/.test(name);
}
