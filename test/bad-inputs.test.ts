/**
 * The bad-input suite: one row per hostile or broken input, run through the real CLI as a child process.
 * Each row: how to build the input (in its own temp folder), the command, the expected exit status (2 for
 * usage errors, 1 for other failures), a substring the one-line message must contain, and the promise that
 * nothing was written (the case folder is byte-for-byte the same file list afterwards, no --out created).
 * Rows run a few at a time; validation fails before any model run, so the suite stays fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { FIXTURES, ROOT, STORIES } from './helpers.js';

const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const BIN = join(STORIES, 'stories260K.bin');
const LLAMA = join(FIXTURES, 'llama');
const MINI_GPT = join(ROOT, 'models', 'mini-gpt');

interface Case {
  name: string;
  /** builds inputs inside `dir` and returns the CLI arguments */
  args: (dir: string) => string[];
  code: 1 | 2;
  message: string | RegExp;
  /** text that must not appear in the output (file contents) */
  notIn?: string;
}

// ---- builders ------------------------------------------------------------------------------------------
const write = (dir: string, name: string, text: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
/** a copy of the tiny Llama fixture with its config edited */
const llamaWith = (dir: string, edit: (c: Record<string, unknown>) => unknown) => {
  const m = join(dir, 'model');
  mkdirSync(m);
  copyFileSync(join(LLAMA, 'model.safetensors'), join(m, 'model.safetensors'));
  const c = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8'));
  const out = edit(c);
  writeFileSync(join(m, 'config.json'), typeof out === 'string' ? out : JSON.stringify(out === undefined ? c : out));
  return m;
};
/** the tiny Llama fixture with a hand-made model.safetensors */
const llamaWithWeights = (dir: string, bytes: Uint8Array) => {
  const m = join(dir, 'model');
  mkdirSync(m);
  copyFileSync(join(LLAMA, 'config.json'), join(m, 'config.json'));
  writeFileSync(join(m, 'model.safetensors'), bytes);
  return m;
};
/** raw safetensors bytes from a header object (or text) and a data section */
const safetensors = (header: unknown, data: Uint8Array, headerText?: string) => {
  const h = Buffer.from(headerText ?? JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([prefix, h, data]);
};
/** the fixture's weights with one tensor's first value replaced */
const llamaPoisoned = (value: number) => {
  const buf = readFileSync(join(LLAMA, 'model.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
  const name = Object.keys(header).find((k) => k.includes('layers.0.mlp.up_proj'))!;
  const out = Buffer.from(buf);
  out.writeFloatLE(value, 8 + n + header[name].data_offsets[0] + 40);
  return out;
};
const fwd = (model: string, dir: string, inputs = join(LLAMA, 'inputs.json'), ...extra: string[]) => ['forward', '--model', model, '--inputs', inputs, '--out', join(dir, 'out', 'h.safetensors'), '--threads', '1', ...extra];
const inputs = (dir: string, obj: unknown) => write(dir, 'inputs.json', typeof obj === 'string' ? obj : JSON.stringify(obj));
/** stories260K.bin with its header edited / its body cut, beside its tokenizer */
const binWith = (dir: string, edit: (b: Buffer) => Buffer) => {
  const out = join(dir, 'm.bin');
  writeFileSync(out, edit(Buffer.from(readFileSync(BIN))));
  return out;
};
/** a task spec (YAML) plus data files in `dir/task` */
const spec = (dir: string, yaml: string, files: Record<string, string | Buffer> = {}) => {
  const t = join(dir, 'task');
  mkdirSync(t, { recursive: true });
  for (const [n, c] of Object.entries(files)) writeFileSync(join(t, n), c);
  return write(t, 'spec.yaml', yaml);
};
const TSV = 'text\tlabel\na good film\tpos\na bad film\tneg\nfine work\tpos\npoor work\tneg\nnice\tpos\nawful\tneg\n';
const probe = (dir: string, tasks: string, ...extra: string[]) => ['probe', '--model', BIN, '--tasks', tasks, '--out', join(dir, 'out'), '--max-train', '20', '--max-eval', '10', '--threads', '1', ...extra];
const run = (dir: string, ...extra: string[]) => ['run', '--model', BIN, '--out', join(dir, 'out'), '--threads', '1', ...extra];
const results = (dir: string, text: string) => write(dir, 'results.json', text);
const goodResults = (budgets: number) => JSON.stringify({
  model: BIN, tasks: [{ name: 'sst2', weight: 1 }], parameters: { full: 1000, fixed: 400, perLayer: [120, 120, 120, 120, 120] },
  budgets: Array.from({ length: budgets }, (_, i) => ({ methods: [{ method: 'probescale', parameters: 520 + 120 * i, retention: 0.9 + 0.02 * i }] })),
});
const F32 = (n: number) => new Uint8Array(n * 4);

const CASES: Case[] = [
  // --- checkpoints: config.json ---
  { name: 'config.json is null', args: (d) => fwd(llamaWith(d, () => 'null'), d), code: 1, message: 'config.json must be a JSON object, got null' },
  { name: 'config.json is an array', args: (d) => fwd(llamaWith(d, () => '[]'), d), code: 1, message: 'must be a JSON object, got an array' },
  { name: 'config.json is not JSON', args: (d) => fwd(llamaWith(d, () => '{"model_type": llama'), d), code: 1, message: 'config.json is not valid JSON' },
  { name: 'num_hidden_layers 0', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, num_hidden_layers: 0 })), d), code: 1, message: 'num_hidden_layers (layers) must be a positive integer, got 0' },
  { name: 'num_hidden_layers 2.5', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, num_hidden_layers: 2.5 })), d), code: 1, message: 'must be a positive integer, got 2.5' },
  { name: 'num_hidden_layers smaller than the stored layers', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, num_hidden_layers: 1 })), d), code: 1, message: 'the weights hold 2 layers but config.json says num_hidden_layers = 1' },
  { name: 'num_attention_heads 0', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, num_attention_heads: 0 })), d), code: 1, message: 'attention heads must be a positive integer, got 0' },
  { name: 'negative rms_norm_eps', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, rms_norm_eps: -1e-6 })), d), code: 1, message: 'layer-norm epsilon must be positive' },
  { name: 'zero rms_norm_eps', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, rms_norm_eps: 0 })), d), code: 1, message: 'epsilon must be positive' },
  { name: 'vocab_size a string', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, vocab_size: 'many' })), d), code: 1, message: 'field "vocab_size" must be a number' },
  { name: 'heads not a multiple of kv heads', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, num_key_value_heads: 3 })), d), code: 1, message: 'not a multiple of 3 key/value heads' },
  { name: 'unknown model_type', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, model_type: 'mamba' })), d), code: 1, message: 'unknown model_type "mamba"' },
  { name: 'negative rope_theta', args: (d) => fwd(llamaWith(d, (c) => ({ ...c, rope_theta: -5 })), d), code: 1, message: 'rope_theta must be positive' },
  { name: 'model path missing', args: (d) => fwd(join(d, 'nope'), d), code: 1, message: 'model path not found' },
  { name: 'model path is a plain file', args: (d) => fwd(write(d, 'model.txt', 'hi'), d), code: 1, message: 'not a model directory and not a llama2.c checkpoint' },
  { name: 'directory without config.json', args: (d) => (mkdirSync(join(d, 'empty')), fwd(join(d, 'empty'), d)), code: 1, message: 'config.json not found' },
  // --- checkpoints: safetensors ---
  { name: 'safetensors header is null', args: (d) => fwd(llamaWithWeights(d, safetensors(null, F32(0))), d), code: 1, message: 'safetensors header must be a JSON object, got null' },
  { name: 'safetensors duplicate tensor names', args: (d) => fwd(llamaWithWeights(d, safetensors(null, F32(4), '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}')), d), code: 1, message: 'tensor name "a" appears twice' },
  { name: 'safetensors overlapping offsets', args: (d) => fwd(llamaWithWeights(d, safetensors({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, F32(6))), d), code: 1, message: 'overlap in the data section' },
  { name: 'safetensors truncated data', args: (d) => fwd(llamaWithWeights(d, safetensors({ a: { dtype: 'F32', shape: [100], data_offsets: [0, 400] } }, F32(10))), d), code: 1, message: 'lies beyond the end of the file' },
  { name: 'safetensors header length beyond the file', args: (d) => fwd(llamaWithWeights(d, Buffer.concat([Buffer.from([255, 255, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')])), d), code: 1, message: 'header length 65535 runs beyond the file' },
  { name: 'safetensors shorter than 8 bytes', args: (d) => fwd(llamaWithWeights(d, Buffer.from([1, 2, 3])), d), code: 1, message: 'not a safetensors file: only 3 bytes' },
  { name: 'safetensors header not JSON', args: (d) => fwd(llamaWithWeights(d, safetensors(null, F32(0), '{oops')), d), code: 1, message: 'safetensors header is not valid UTF-8 JSON' },
  { name: 'safetensors negative shape', args: (d) => fwd(llamaWithWeights(d, safetensors({ a: { dtype: 'F32', shape: [-1, -4], data_offsets: [0, 16] } }, F32(4))), d), code: 1, message: 'malformed shape or data_offsets' },
  { name: 'safetensors size disagrees with shape', args: (d) => fwd(llamaWithWeights(d, safetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, F32(4))), d), code: 1, message: 'spans 16 bytes but shape [3] of F32 needs 12' },
  { name: 'NaN in a weight', args: (d) => fwd(llamaWithWeights(d, llamaPoisoned(NaN)), d), code: 1, message: 'holds 1 NaN or infinite value(s)' },
  { name: 'Inf in a weight', args: (d) => fwd(llamaWithWeights(d, llamaPoisoned(Infinity)), d), code: 1, message: 'NaN or infinite' },
  { name: 'weights missing a tensor', args: (d) => fwd(llamaWithWeights(d, safetensors({ 'model.embed_tokens.weight': { dtype: 'F32', shape: [256, 64], data_offsets: [0, 65536] } }, F32(16384))), d), code: 1, message: 'missing tensor' },
  // --- checkpoints: llama2.c ---
  { name: 'llama2.c shorter than its header', args: (d) => ['info', '--model', write(d, 'm.bin', Buffer.alloc(10))], code: 1, message: 'shorter than its 28-byte header' },
  { name: 'llama2.c header declares fewer layers than stored', args: (d) => ['info', '--model', binWith(d, (b) => (b.writeInt32LE(b.readInt32LE(8) - 1, 8), b))], code: 1, message: 'floats after the header but its header' },
  { name: 'llama2.c file cut short', args: (d) => ['info', '--model', binWith(d, (b) => b.subarray(0, b.length - 1000))], code: 1, message: 'floats after the header but its header' },
  { name: 'llama2.c zero heads', args: (d) => ['info', '--model', binWith(d, (b) => (b.writeInt32LE(0, 12), b))], code: 1, message: 'implausible llama2.c header' },
  { name: 'llama2.c NaN weight', args: (d) => ['info', '--model', binWith(d, (b) => (b.writeFloatLE(NaN, 28 + 4000), b))], code: 1, message: 'tensor "weights" holds 1 NaN' },
  // --- forward inputs ---
  { name: 'inputs.json is null', args: (d) => fwd(LLAMA, d, inputs(d, 'null')), code: 1, message: 'must be a JSON object with "input_ids"' },
  { name: 'inputs.json not JSON', args: (d) => fwd(LLAMA, d, inputs(d, '{"input_ids": [[1,2]')), code: 1, message: 'not valid JSON' },
  { name: 'inputs.json without input_ids', args: (d) => fwd(LLAMA, d, inputs(d, { attention_mask: [[1]] })), code: 1, message: 'missing "input_ids"' },
  { name: 'attention mask value 2', args: (d) => fwd(LLAMA, d, inputs(d, { input_ids: [[1, 2, 3]], attention_mask: [[1, 2, 1]] })), code: 1, message: 'holds a value other than 0 or 1' },
  { name: 'attention mask shorter than ids', args: (d) => fwd(LLAMA, d, inputs(d, { input_ids: [[1, 2, 3]], attention_mask: [[1, 1]] })), code: 1, message: 'row 0 has 2 entries but its ids row has 3' },
  { name: 'id outside the vocabulary', args: (d) => fwd(LLAMA, d, inputs(d, { input_ids: [[1, 999]] })), code: 1, message: "holds id 999, outside this model's 256 entries" },
  { name: 'negative id', args: (d) => fwd(LLAMA, d, inputs(d, { input_ids: [[1, -3]] })), code: 1, message: 'non-negative integers' },
  { name: 'mask rows differ from ids rows', args: (d) => fwd(LLAMA, d, inputs(d, { input_ids: [[1, 2]], attention_mask: [[1, 1], [1, 1]] })), code: 1, message: 'has 2 rows but input_ids has 1' },
  { name: 'inputs file missing', args: (d) => fwd(LLAMA, d, join(d, 'none.json')), code: 1, message: 'inputs file not found' },
  { name: '--layers with an empty entry', args: (d) => fwd(LLAMA, d, undefined, '--layers', ','), code: 2, message: 'no empty entries' },
  { name: '--layers out of range', args: (d) => fwd(LLAMA, d, undefined, '--layers', '0,7'), code: 1, message: 'layers index 7 is out of range' },
  { name: '--threads 0', args: (d) => [...fwd(LLAMA, d), '--threads', '0'], code: 2, message: '--threads' },
  { name: '--threads 9999', args: (d) => [...fwd(LLAMA, d), '--threads', '9999'], code: 2, message: 'expected 1 to' },
  { name: '--threads not a number', args: (d) => [...fwd(LLAMA, d), '--threads', 'many'], code: 2, message: 'expected a non-negative integer' },
  { name: 'forward --out under /proc', args: () => ['forward', '--model', LLAMA, '--inputs', join(LLAMA, 'inputs.json'), '--out', '/proc/probescale-none/h.safetensors', '--threads', '1'], code: 1, message: '/proc/probescale-none' },
  { name: 'forward --out is a file probescale did not write', args: (d) => ['forward', '--model', LLAMA, '--inputs', join(LLAMA, 'inputs.json'), '--out', write(d, 'notes.safetensors', 'my notes'), '--threads', '1'], code: 1, message: 'a file that probescale did not write' },
  { name: 'forward --out is a folder', args: (d) => (mkdirSync(join(d, 'dir')), ['forward', '--model', LLAMA, '--inputs', join(LLAMA, 'inputs.json'), '--out', join(d, 'dir'), '--threads', '1']), code: 1, message: 'forward writes one .safetensors file' },
  // --- tokenizers ---
  { name: 'tokenizer.json is {}', args: (d) => genWithTokenizer(d, '{}'), code: 1, message: 'not a Hugging Face tokenizer.json' },
  { name: 'tokenizer.json is null', args: (d) => genWithTokenizer(d, 'null'), code: 1, message: 'not a Hugging Face tokenizer.json' },
  { name: 'tokenizer.json is not JSON', args: (d) => genWithTokenizer(d, '{"model":'), code: 1, message: 'not valid JSON' },
  { name: 'tokenizer.json with a broken model', args: (d) => genWithTokenizer(d, '{"model": {"type": "Nope"}}'), code: 1, message: 'cannot build a tokenizer from this file' },
  // --- tasks and probe arguments ---
  { name: '--tasks ","', args: (d) => probe(d, ','), code: 2, message: 'no empty entries' },
  { name: '--tasks with an unknown name', args: (d) => probe(d, 'sst2,nosuchtask'), code: 2, message: 'unknown task "nosuchtask"' },
  { name: '--tasks naming a task twice', args: (d) => probe(d, 'sst2,sst2'), code: 2, message: 'names "sst2" twice' },
  { name: '--probe svm', args: (d) => probe(d, 'sst2', '--probe', 'svm'), code: 2, message: "argument 'svm' is invalid" },
  { name: '--bootstrap 0', args: (d) => probe(d, 'sst2', '--bootstrap', '0'), code: 2, message: 'at least 1' },
  { name: '--max-train 0', args: (d) => probe(d, 'sst2', '--max-train', '0'), code: 2, message: 'at least 1' },
  { name: '--max-eval -1', args: (d) => probe(d, 'sst2', '--max-eval', '-1'), code: 2, message: 'non-negative integer' },
  { name: '--pooling middle', args: (d) => probe(d, 'sst2', '--pooling', 'middle'), code: 2, message: 'Allowed choices are mean, first, last' },
  { name: 'spec reading ../../etc/passwd', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: ../../../../../../../../etc/passwd, test: ../../../../../../../../etc/passwd }\n')), code: 1, message: "lies outside the spec's folder", notIn: 'root:' },
  { name: 'spec with an absolute path', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: /etc/hostname, test: /etc/hostname }\n')), code: 1, message: '--allow-outside' },
  { name: 'spec with a symlink out of its folder', args: (d) => { const s = spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n'); symlinkSync('/etc/passwd', join(d, 'task', 't.tsv')); return probe(d, s); }, code: 1, message: "outside the spec's folder", notIn: 'root:' },
  { name: 'spec with a single class', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': 'text\tlabel\na\tpos\nb\tpos\nc\tpos\n' })), code: 1, message: 'a probe needs at least 2 classes' },
  { name: 'spec token kind from tsv', args: (d) => probe(d, spec(d, 'kind: token\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': TSV })), code: 1, message: 'kind token cannot be read from format "tsv"' },
  { name: 'spec sentence kind from conllu', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: conllu\nfiles: { train: t.conllu, test: t.conllu }\n')), code: 1, message: 'kind sentence cannot be read from format "conllu"' },
  { name: 'spec data not UTF-8', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': Buffer.concat([Buffer.from('text\tlabel\ncaf'), Buffer.from([0xe9]), Buffer.from('\tpos\nbad\tneg\n')]) })), code: 1, message: 'is not UTF-8 text' },
  { name: 'spec is null', args: (d) => probe(d, spec(d, 'null\n')), code: 1, message: 'a task spec must be a JSON/YAML object' },
  { name: 'spec without files', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\n')), code: 1, message: '"files" needs at least train and test' },
  { name: 'spec with an unknown metric', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nmetric: bleu\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': TSV })), code: 1, message: 'unknown metric "bleu"' },
  { name: 'spec with an unknown kind', args: (d) => probe(d, spec(d, 'kind: regression\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': TSV })), code: 1, message: '"kind" must be one of' },
  { name: 'spec not YAML', args: (d) => probe(d, spec(d, 'kind: [sentence\n  : : :\n')), code: 1, message: 'cannot read task spec' },
  { name: 'spec data file missing', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: none.tsv, test: none.tsv }\n')), code: 1, message: 'file not found' },
  { name: 'spec tsv without the text column (header not echoed)', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: t.tsv, test: t.tsv }\n', { 't.tsv': 'secretcolumn\tlabel\na\tpos\nb\tneg\n' })), code: 1, message: 'no column "text" (text) among the 2 header columns', notIn: 'secretcolumn' },
  { name: 'spec test label unseen in train (label not echoed)', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: tsv\nfiles: { train: a.tsv, test: b.tsv }\n', { 'a.tsv': TSV, 'b.tsv': 'text\tlabel\nx\tsecretlabel\n' })), code: 1, message: 'not among the 2 label(s)', notIn: 'secretlabel' },
  { name: 'spec jsonl with a broken line', args: (d) => probe(d, spec(d, 'kind: sentence\nformat: jsonl\nfiles: { train: t.jsonl, test: t.jsonl }\n', { 't.jsonl': '{"text":"a","label":"x"}\n{oops\n' })), code: 1, message: 'line 2: not a JSON object' },
  // --- run arguments and outputs ---
  { name: 'run --budget ","', args: (d) => run(d, '--tasks', 'sst2', '--budget', ','), code: 2, message: 'no empty entries' },
  { name: 'run --budget lots', args: (d) => run(d, '--tasks', 'sst2', '--budget', 'lots'), code: 2, message: 'cannot read budget "lots"' },
  { name: 'run --budget 0', args: (d) => run(d, '--tasks', 'sst2', '--budget', '0'), code: 2, message: '--budget must be positive' },
  { name: 'run infeasible budget', args: (d) => run(d, '--tasks', 'sst2', '--budget', '0.01'), code: 1, message: 'infeasible' },
  { name: 'run --weights for the wrong number of tasks', args: (d) => run(d, '--tasks', 'sst2,upos', '--weights', '1'), code: 2, message: '--weights has 1 value(s) for 2 task(s)' },
  { name: 'run --weights 0', args: (d) => run(d, '--tasks', 'sst2', '--weights', '0'), code: 2, message: '--weights are all 0' },
  { name: 'run --weights abc', args: (d) => run(d, '--tasks', 'sst2', '--weights', 'abc'), code: 2, message: 'non-negative weight' },
  { name: 'run --random-seeds 0', args: (d) => run(d, '--tasks', 'sst2', '--random-seeds', '0'), code: 2, message: 'at least 1' },
  { name: 'run --out is a foreign folder', args: (d) => (write(d, 'keep.txt', 'mine'), ['run', '--model', BIN, '--tasks', 'sst2', '--out', d]), code: 1, message: 'probescale did not write' },
  { name: 'run --out is a file', args: (d) => ['run', '--model', BIN, '--tasks', 'sst2', '--out', write(d, 'f', 'x')], code: 1, message: 'is a file' },
  { name: 'run --out under /proc', args: () => ['run', '--model', BIN, '--tasks', 'sst2', '--out', '/proc/probescale-none/out'], code: 1, message: 'pseudo file system' },
  { name: 'run --out below a file', args: (d) => ['run', '--model', BIN, '--tasks', 'sst2', '--out', join(write(d, 'f', 'x'), 'sub')], code: 1, message: 'is a file, not a folder' },
  // --- convert ---
  { name: 'convert --out a foreign folder', args: (d) => (write(d, 'keep.txt', 'mine'), ['convert', '--from', BIN, '--out', d]), code: 1, message: 'probescale did not write' },
  { name: 'convert --out a file, even with --overwrite', args: (d) => ['convert', '--from', BIN, '--out', write(d, 'f', 'x'), '--overwrite'], code: 1, message: 'never replaces it' },
  { name: 'convert --from missing', args: (d) => ['convert', '--from', join(d, 'none.bin'), '--out', join(d, 'out')], code: 1, message: 'no such file' },
  // --- predict ---
  { name: 'predict on an empty results.json', args: (d) => ['predict', '--results', results(d, ''), '--target', '0.95'], code: 1, message: /results\.json: not valid JSON/ },
  { name: 'predict on a truncated results.json', args: (d) => ['predict', '--results', results(d, goodResults(3).slice(0, 50)), '--target', '0.95'], code: 1, message: 'empty or cut short' },
  { name: 'predict on a non-JSON file', args: (d) => ['predict', '--results', results(d, 'hello'), '--target', '0.95'], code: 1, message: 'not valid JSON' },
  { name: 'predict on null', args: (d) => ['predict', '--results', results(d, 'null'), '--target', '0.95'], code: 1, message: 'not the results.json of a `probescale run`' },
  { name: 'predict on {}', args: (d) => ['predict', '--results', results(d, '{}'), '--target', '0.95'], code: 1, message: 'fields missing' },
  { name: 'predict with one budget', args: (d) => ['predict', '--results', results(d, goodResults(1)), '--target', '0.95'], code: 1, message: 'needs at least 2' },
  { name: 'predict --target 2', args: (d) => ['predict', '--results', results(d, goodResults(3)), '--target', '2'], code: 2, message: '--target must be a retention' },
  { name: 'predict --target abc', args: (d) => ['predict', '--results', results(d, goodResults(3)), '--target', 'abc'], code: 2, message: '--target must be a retention' },
  { name: 'predict on a missing file', args: (d) => ['predict', '--results', join(d, 'none.json'), '--target', '0.9'], code: 1, message: 'results file not found' },
  // --- command line ---
  { name: 'unknown command', args: () => ['frobnicate'], code: 2, message: "unknown command 'frobnicate'" },
  { name: 'unknown option', args: () => ['info', '--model', BIN, '--colour'], code: 2, message: "unknown option '--colour'" },
  { name: 'missing required option', args: () => ['forward', '--model', LLAMA], code: 2, message: "required option '--inputs <file>' not specified" },
  { name: 'info without --model or --families', args: () => ['info'], code: 2, message: 'info needs --model or --families' },
  { name: 'pretrain unknown test bed', args: (d) => ['pretrain', '--model', 'mini-bert', '--out', join(d, 'models')], code: 1, message: 'unknown test bed "mini-bert"' },
  { name: 'demo unknown stage', args: (d) => ['demo', '--only', 'gpt5', '--out', join(d, 'out')], code: 1, message: 'unknown demo stage "gpt5"' },
];

/** mini-gpt's config and weights (linked, not copied) beside a bad tokenizer.json */
function genWithTokenizer(dir: string, tokenizer: string): string[] {
  const m = join(dir, 'model');
  mkdirSync(m);
  symlinkSync(join(MINI_GPT, 'config.json'), join(m, 'config.json'));
  symlinkSync(join(MINI_GPT, 'model.safetensors'), join(m, 'model.safetensors'));
  writeFileSync(join(m, 'tokenizer.json'), tokenizer);
  return ['generate', '--model', m, '--prompt', 'hi', '--steps', '2'];
}

/** every path under dir with its size: "nothing written" means this is unchanged */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of readdirSync(p)) {
      const f = join(p, n);
      const st = statSync(f, { throwIfNoEntry: false });
      out.push(`${relative(dir, f)}:${st?.isDirectory() ? 'dir' : st?.size}`);
      if (st?.isDirectory()) walk(f);
    }
  };
  walk(dir);
  return out.sort();
}

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test(`bad-input suite: ${CASES.length} cases, each one line, the right exit status, nothing written`, { timeout: 600_000 }, async () => {
  assert.ok(CASES.length >= 60);
  const root = mkdtempSync(join(tmpdir(), 'ps-bad-'));
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= CASES.length) return;
      const c = CASES[i];
      const dir = join(root, String(i));
      mkdirSync(dir);
      const args = c.args(dir);
      const before = snapshot(dir);
      const r = await runCli(args);
      const err = r.stderr.trim();
      const problems: string[] = [];
      if (r.status !== c.code) problems.push(`exit ${r.status}, expected ${c.code}`);
      const ok = typeof c.message === 'string' ? err.includes(c.message) : c.message.test(err);
      if (!ok) problems.push(`message lacks ${String(c.message)}`);
      if (/\n\s+at .*:\d+:\d+/.test(err)) problems.push('prints a stack trace');
      if (err.split('\n').filter((l) => !l.startsWith('probescale: warning:')).length !== 1) problems.push('not one line');
      if (c.notIn && (err.includes(c.notIn) || r.stdout.includes(c.notIn))) problems.push(`echoes file contents (${c.notIn})`);
      const after = snapshot(dir);
      if (JSON.stringify(before) !== JSON.stringify(after)) problems.push(`wrote files: ${after.filter((f) => !before.includes(f)).join(', ')}`);
      if (existsSync(join(dir, 'out'))) problems.push('created --out');
      if (problems.length) failures.push(`#${i} ${c.name}: ${problems.join('; ')}\n    stderr: ${err.slice(0, 400)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  rmSync(root, { recursive: true, force: true });
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('--debug shows the stack of a user error', async () => {
  const r = await runCli(['info', '--model', '/nonexistent/model', '--debug']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ProbescaleError: .*model path not found[\s\S]*\n\s+at /);
});

test('predict never answers below the smallest model (embeddings + one layer)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ps-predict-'));
  // retention stays ~1 down to the smallest subset: the fitted curve keeps 0.9 far below one layer
  const res = write(root, 'results.json', JSON.stringify({
    model: BIN, tasks: [{ name: 'sst2', weight: 1 }], parameters: { full: 1000, fixed: 400, perLayer: [120, 120, 120, 120, 120] },
    budgets: [520, 640, 760].map((p) => ({ methods: [{ method: 'probescale', parameters: p, retention: 0.999 }] })),
  }));
  const r = await runCli(['predict', '--results', res, '--target', '0.9']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /the answer is that smallest model/);
  assert.doesNotMatch(r.stdout, /smallest budget predicted to keep 0\.9: 0\.[0-4]/);
  rmSync(root, { recursive: true, force: true });
});


