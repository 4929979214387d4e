/** Task loaders: real bundled data with the documented sizes, and malformed inputs with clear errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { listTasks, loadTask } from '../../src/data/builtin.js';
import { readConllu } from '../../src/data/conllu.js';
import { readTsv } from '../../src/data/tsv.js';
import { readJsonl } from '../../src/data/jsonl.js';
import { loadTaskSpec } from '../../src/data/spec.js';
import { spansFromTags } from '../../src/data/spans.js';
import type { TokenExample, EdgeExample, SentenceExample } from '../../src/data/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'ps-data-'));
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
test.after(() => rmSync(tmp, { recursive: true }));

test('built-in tasks load with the sizes stated in each SOURCE.md', () => {
  const upos = loadTask('upos');
  assert.deepEqual([upos.splits.train.length, upos.splits.dev.length, upos.splits.test.length], [12544, 2001, 2077]);
  assert.equal(upos.labels.length, 17);
  assert.equal((upos.splits.train as TokenExample[]).reduce((a, s) => a + s.words.length, 0), 204577);
  const sst2 = loadTask('sst2');
  assert.deepEqual([sst2.splits.train.length, sst2.splits.dev.length, sst2.splits.test.length], [60614, 6735, 872]);
  const ner = loadTask('ner');
  assert.deepEqual([ner.splits.train.length, ner.splits.dev.length, ner.splits.test.length], [14041, 3250, 3453]); // documents' -DOCSTART- lines removed
  assert.equal(ner.labels.length, 9);
  const trec = loadTask('trec');
  assert.equal(trec.splits.train.length + trec.splits.dev.length, 5452);
  assert.deepEqual(trec.labels, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']);
  const deprel = loadTask('deprel', { maxTrain: 50 });
  const e = (deprel.splits.train as EdgeExample[])[0];
  assert.ok(e.edges.length === e.words.length - 1, 'one edge per non-root word');
  for (const name of listTasks()) {
    const t = loadTask(name, { maxTrain: 200, maxEval: 100 });
    assert.ok(t.labels.length >= 2, `${name} has labels`);
    assert.ok(t.splits.train.length > 0 && t.splits.dev.length > 0 && t.splits.test.length > 0, `${name} has all splits`);
  }
});

test('subsampling is deterministic and seeded; SentEval probes are deterministic', () => {
  const a = loadTask('sst2', { maxTrain: 100, seed: 1 }).splits.train as SentenceExample[];
  const b = loadTask('sst2', { maxTrain: 100, seed: 1 }).splits.train as SentenceExample[];
  const c = loadTask('sst2', { maxTrain: 100, seed: 2 }).splits.train as SentenceExample[];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(loadTask('bshift').splits.test, loadTask('bshift').splits.test);
  const labels = new Set((loadTask('bshift').splits.train as SentenceExample[]).map((x) => x.label));
  assert.deepEqual([...labels].sort(), ['inverted', 'original']);
});

test('unknown task lists the built-in ones', () => {
  assert.throws(() => loadTask('nope'), /unknown task "nope"; built-in tasks: sst2, cola/);
});

test('CoNLL-U: comments, multiword ranges and empty nodes; bad column count names the line', () => {
  const good = file('a.conllu', '# text = Don\'t go.\n1-2\tDon\'t\t_\t_\t_\t_\t_\t_\t_\t_\n1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n2\tn\'t\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n2.1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n3\tgo\tgo\tVERB\tVB\tVerbForm=Inf\t0\troot\t_\t_\n4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n');
  const s = readConllu(good);
  assert.equal(s.length, 1);
  assert.deepEqual(s[0].words.map((w) => w.form), ['Do', "n't", 'go', '.']);
  assert.equal(s[0].words[2].feats.VerbForm, 'Inf');
  const bad = file('b.conllu', '1\tDo\tdo\tAUX\n');
  assert.throws(() => readConllu(bad), /b\.conllu: line 1: expected 10 tab-separated CoNLL-U columns, found 4/);
  const badHead = file('c.conllu', '1\tDo\tdo\tAUX\tVBP\t_\t7\taux\t_\t_\n\n');
  assert.throws(() => readConllu(badHead), /head 7 of word 1 is outside the sentence/);
});

test('TSV: missing label column and empty files are reported with file and line', () => {
  const p = file('t.tsv', 'sentence\tlabel\ngood movie\t1\nno label here\n');
  assert.throws(() => readTsv(p, { text: 'sentence', label: 'label' }), /t\.tsv: line 3: expected at least 2 tab-separated columns, found 1/);
  assert.throws(() => readTsv(file('e.tsv', ''), { text: 0, label: 1 }), /e\.tsv: no data rows/);
  assert.throws(() => readTsv(file('h.tsv', 'a\tb\nx\ty\n'), { text: 'sentence', label: 'b' }), /no column "sentence"/);
});

test('JSONL: a bad line is named', () => {
  assert.throws(() => readJsonl(file('j.jsonl', '{"text":"a","label":"x"}\n{oops\n')), /j\.jsonl: line 2: not a JSON object/);
});

test('user task spec (YAML): labels inferred, unknown eval label is an error naming the spec', () => {
  file('train.tsv', 'text\tlabel\ngreat\tpos\nawful\tneg\nfine\tpos\nbad\tneg\n');
  file('test.tsv', 'text\tlabel\nsuper\tpos\nmeh\tneutral\n');
  const spec = file('task.yaml', 'name: mini\nkind: sentence\nformat: tsv\nfiles: { train: train.tsv, test: test.tsv }\nmetric: accuracy\n');
  assert.throws(() => loadTaskSpec(spec), /test\.tsv: example 2 has a label that is not among the 2 label\(s\) of the training split[\s\S]*fix: add it to labels in .*task\.yaml/);
  const spec2 = file('task2.yaml', 'name: mini\nkind: sentence\nformat: tsv\nfiles: { train: train.tsv, test: test.tsv }\nlabels: [neg, neutral, pos]\n');
  const t = loadTaskSpec(spec2);
  assert.deepEqual(t.labels, ['neg', 'neutral', 'pos']);
  assert.equal(t.splits.train.length + t.splits.dev.length, 4);
});

test('spans from IOB2 and IOB1 tags', () => {
  assert.deepEqual(spansFromTags(['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'I-ORG']), [
    { type: 'PER', start: 0, end: 2 },
    { type: 'LOC', start: 3, end: 4 },
    { type: 'LOC', start: 4, end: 5 },
    { type: 'ORG', start: 5, end: 6 },
  ]);
  // IOB1: spans start with I-, B- only separates two adjacent spans of one type
  assert.deepEqual(spansFromTags(['I-NP', 'I-NP', 'B-NP', 'I-VP', 'O']), [
    { type: 'NP', start: 0, end: 2 },
    { type: 'NP', start: 2, end: 3 },
    { type: 'VP', start: 3, end: 4 },
  ]);
});

test('somo: about half the sentences have exactly one noun/verb replaced by a different word; deterministic', () => {
  const t = loadTask('somo');
  assert.deepEqual(t.splits.test, loadTask('somo').splits.test);
  const train = t.splits.train as SentenceExample[];
  assert.deepEqual([...new Set(train.map((x) => x.label))].sort(), ['changed', 'original']);
  const changed = train.filter((x) => x.label === 'changed').length / train.length;
  assert.ok(changed > 0.45 && changed < 0.55, `changed share ${changed}`);
  // the same sentences, original vs changed, differ in one word: rebuild from the treebank split
  const orig = new Map((loadTask('length').splits.train as SentenceExample[]).map((x) => [x.text.split(' ').length + ' ' + x.text.split(' ').slice(0, 1).join(''), x.text]));
  let checked = 0;
  for (const x of train.filter((e) => e.label === 'changed').slice(0, 300)) {
    const w = x.text.split(' ');
    const o = orig.get(w.length + ' ' + w[0]);
    if (!o) continue;
    const ow = o.split(' ');
    const diff = w.filter((v, i) => v !== ow[i]).length;
    if (diff === 1) checked++;
  }
  assert.ok(checked > 100, `${checked} changed sentences differ from a treebank sentence in exactly one word`);
});
