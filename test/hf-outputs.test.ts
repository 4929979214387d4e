/**
 * What probescale writes loads as-is in transformers.js (@huggingface/transformers, offline, local folders):
 * plain, vocabulary-trimmed and healed outputs of stories260K (llama2.c -> HF Llama, SentencePiece-style BPE
 * tokenizer built from its vocabulary), mini-gpt (GPT-2, byte-level BPE) and the encoder fixtures. Token ids, features
 * (last_hidden_state) and greedy generation through the exported key/value cache are compared with
 * probescale's own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import { env, pipeline, AutoTokenizer, AutoModelForCausalLM, Tensor } from '@huggingface/transformers';
import { type LoadedModel } from '../src/model/checkpoint.js';
import { loadModel } from '../src/engine/load.js';
import { materialize } from '../src/compress/materialize.js';
import { fitBridges } from '../src/compress/heal.js';
import { Engine } from '../src/engine/engine.js';
import { greedyGenerate } from '../src/engine/generate.js';
import { FIXTURES, ROOT, STORIES, writeCharTokenizer } from './helpers.js';

env.allowRemoteModels = false; // nothing may come from the network: the folders are local paths
env.localModelPath = '';

const SENTENCES = gunzipSync(readFileSync(join(ROOT, 'data', 'ud-en-ewt', 'en_ewt-ud-dev.conllu.gz')))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.startsWith('# text = '))
  .map((l) => l.slice('# text = '.length))
  .slice(0, 40);
const TASK_TEXT = ['Once upon a time there was a cat.', 'The cat was happy.'];
const PROMPT = 'Once upon a time';

let tmp: string;
const out = (name: string) => join(tmp, name);
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ps-hf-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function ours(dir: string) {
  const model = loadModel(dir);
  return { model, tok: await model.tokenizer() };
}

/** probescale's last_hidden_state vs transformers.js feature-extraction on the same text. */
async function compareFeatures(model: LoadedModel, ids: number[], dir: string) {
  const engine = await Engine.create(model, { hiddenStates: 'last', logits: false, threads: 1 });
  const want = (await engine.run({ inputIds: [ids] })).last_hidden_state;
  await engine.release();
  const fe = await pipeline('feature-extraction', dir, { dtype: 'fp32' });
  const tokenizer = await AutoTokenizer.from_pretrained(dir);
  const got = await fe.model({ input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]), attention_mask: new Tensor('int64', BigInt64Array.from(ids.map(() => 1n)), [1, ids.length]) });
  await fe.dispose();
  const data = got.last_hidden_state.data as Float32Array;
  assert.deepEqual(got.last_hidden_state.dims, want.dims);
  let worst = 0;
  for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(data[i] - want.data[i]));
  assert.ok(worst < 1e-4, `features differ by ${worst}`);
  return tokenizer;
}

/** transformers.js greedy generation (through onnx/model.onnx's past_key_values) vs probescale's greedy ids. */
async function compareGeneration(model: LoadedModel, prompt: number[], dir: string, newTokens: number) {
  const engine = await Engine.create(model, { hiddenStates: 'last', kvCache: true, threads: 1 });
  const want = await greedyGenerate(engine, prompt, prompt.length + newTokens - 1);
  await engine.release();
  const lm = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32' });
  const ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
  const gen = (await lm.generate({ input_ids: ids, attention_mask: new Tensor('int64', BigInt64Array.from(prompt.map(() => 1n)), [1, prompt.length]), max_new_tokens: newTokens, do_sample: false })) as Tensor;
  await lm.dispose();
  const got = Array.from(gen.data as BigInt64Array, Number);
  // transformers.js stops at eos_token_id; probescale's generate does not here
  const eos = model.arch.eosTokenId;
  assert.ok(got.length === want.length || got.at(-1) === eos, `transformers.js stopped at ${got.length} without EOS`);
  assert.deepEqual(got, want.slice(0, got.length), 'greedy ids');
  assert.ok(got.length > prompt.length + 1, 'generated past its second step');
  return got;
}

function onnxGraph(dir: string) {
  return onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, 'onnx', 'model.onnx'))).graph!;
}

test('stories260K subset: transformers.js layout; same token ids, features and greedy generation (key/value cache) as probescale', async () => {
  const src = loadModel(join(STORIES, 'stories260K.bin'));
  const dir = out('stories-plain');
  const res = await materialize(src, [0, 1, 2, 4], dir, { headInfo: { tasks: {} } });
  assert.deepEqual([res.compat.transformers, res.compat.transformersJs, res.compat.tokenizer], [true, true, true]);
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'model.safetensors']) assert.ok(existsSync(join(dir, f)), f);
  assert.ok(!existsSync(join(dir, 'model.onnx')), 'no ONNX file at the top level');
  // every graph output declares a (symbolic) shape; the cache is in HF naming and layout
  const graph = onnxGraph(dir);
  for (const o of graph.output!) assert.ok(o.type?.tensorType?.shape?.dim?.length, `output ${o.name} has a shape`);
  const past = graph.input!.find((i) => i.name === 'past_key_values.3.value')!;
  assert.deepEqual(past.type!.tensorType!.shape!.dim!.map((d) => d.dimValue ? Number(d.dimValue) : d.dimParam), ['batch_size', 4, 'past_sequence_length', 8]);
  assert.ok(graph.output!.some((o) => o.name === 'present.3.key') && !graph.input!.some((i) => i.name === 'past_key_values.4.key'));
  const head = JSON.parse(readFileSync(join(dir, 'head.json'), 'utf8')) as { features: { hidden_state: string } };
  assert.match(head.features.hidden_state, /last_hidden_state.*after the final norm/);

  const { model, tok } = await ours(dir);
  const tokenizer = await compareFeatures(model, tok.encode(SENTENCES[0]), dir);
  for (const s of SENTENCES) assert.deepEqual(Array.from(tokenizer.encode(s)), tok.encode(s), s);
  // ...and the written tokenizer.json gives run.c's ids (the llama2.c tokenizer of the source)
  const l2c = await src.tokenizer();
  for (const s of SENTENCES) assert.deepEqual(tok.encode(s), l2c.encode(s), s);
  await compareGeneration(model, tok.encode(PROMPT), dir, 30);
  const gen = await pipeline('text-generation', dir, { dtype: 'fp32' });
  const text = (await gen(PROMPT, { max_new_tokens: 20, do_sample: false })) as { generated_text: string }[];
  await gen.dispose();
  assert.match(text[0].generated_text, /^Once upon a time, there was a little girl/);
});

test('stories260K with a trimmed vocabulary: HF tokenizer gives the trimmed ids, removed pieces the unknown token', async () => {
  const src = loadModel(join(STORIES, 'stories260K.bin'));
  const srcTok = await src.tokenizer();
  const dir = out('stories-trim');
  await materialize(src, [0, 1, 2, 3, 4], dir, { vocab: { used: TASK_TEXT.flatMap((t) => srcTok.encode(t)), specials: [] } });
  const map = JSON.parse(readFileSync(join(dir, 'vocab_map.json'), 'utf8')) as { kept: number[]; fallback: number };
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number; bos_token_id: number; eos_token_id: number };
  assert.equal(config.vocab_size, map.kept.length);
  assert.deepEqual([map.kept[config.bos_token_id], map.kept[config.eos_token_id], map.kept[map.fallback]], [1, 2, 0], 'config ids renumbered; fallback = <unk>');
  const { model, tok } = await ours(dir);
  const tokenizer = await compareFeatures(model, tok.encode(TASK_TEXT[0]), dir);
  // an ordinary sentence of the task data: the original pieces, in the new numbering
  const ids = Array.from(tokenizer.encode(TASK_TEXT[0]));
  assert.deepEqual(ids, tok.encode(TASK_TEXT[0]));
  assert.deepEqual(ids.map((j) => map.kept[j]), srcTok.encode(TASK_TEXT[0]));
  // a sentence with removed pieces: only valid ids, characters that are not kept -> <unk>
  const other = 'A zebra quickly jumped over the lazy fox!';
  const oids = Array.from(tokenizer.encode(other));
  assert.deepEqual(oids, tok.encode(other));
  assert.ok(oids.every((j) => j >= 0 && j < map.kept.length));
  assert.ok(oids.includes(map.fallback), 'unknown token used');
  assert.ok(!oids.slice(1).includes(config.bos_token_id), 'removed pieces are not <s>');
  await compareGeneration(model, tok.encode(PROMPT), dir, 12);
});

test('healed: Hugging Face / transformers.js refuse the folder (model_type probescale-healed); probescale runs it with its bridges', async () => {
  const src = loadModel(join(STORIES, 'stories260K.bin'));
  const srcTok = await src.tokenizer();
  const bridges = await fitBridges(src, [0, 4], { inputIds: TASK_TEXT.map((t) => srcTok.encode(t)) });
  const dir = out('stories-heal');
  const res = await materialize(src, [0, 4], dir, { bridges });
  assert.equal(res.compat.transformers, false);
  assert.equal(res.compat.transformersJs, false);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model_type: string; probescale: { model_type: string } };
  assert.equal(config.model_type, 'probescale-healed');
  assert.equal(config.probescale.model_type, 'llama');
  await assert.rejects(AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32' }), /probescale-healed/);
  const { model, tok } = await ours(dir);
  const engine = await Engine.create(model, { hiddenStates: 'last', logits: false, threads: 1 });
  assert.ok(engine.options.bridges && Object.keys(engine.options.bridges).length > 0, 'bridges applied');
  const healed = (await engine.run({ inputIds: [tok.encode(PROMPT)] })).last_hidden_state.data;
  await engine.release();
  const plain = await Engine.create(src, { layers: [0, 4], hiddenStates: 'last', logits: false, threads: 1 });
  const unhealed = (await plain.run({ inputIds: [tok.encode(PROMPT)] })).last_hidden_state.data;
  await plain.release();
  assert.ok(healed.some((v, i) => Math.abs(v - unhealed[i]) > 1e-3), 'the bridges change the model: loading without them would be wrong');
});

test('mini-gpt (GPT-2, byte-level BPE): plain and trimmed outputs match probescale in transformers.js', async () => {
  const src = loadModel(join(ROOT, 'models', 'mini-gpt'));
  const srcTok = await src.tokenizer();
  const plain = out('gpt-plain');
  await materialize(src, [0, 6, 11], plain);
  let { model, tok } = await ours(plain);
  let tokenizer = await compareFeatures(model, tok.encode(SENTENCES[1]), plain);
  for (const s of SENTENCES) assert.deepEqual(Array.from(tokenizer.encode(s)), srcTok.encode(s), s);
  await compareGeneration(model, tok.encode(PROMPT), plain, 16);

  const trimmed = out('gpt-trim');
  await materialize(src, [0, 6, 11], trimmed, { vocab: { used: TASK_TEXT.flatMap((t) => srcTok.encode(t)), specials: [] } });
  const map = JSON.parse(readFileSync(join(trimmed, 'vocab_map.json'), 'utf8')) as { kept: number[]; fallback: number };
  ({ model, tok } = await ours(trimmed));
  tokenizer = await compareFeatures(model, tok.encode(TASK_TEXT[1]), trimmed);
  for (const s of TASK_TEXT) assert.deepEqual(Array.from(tokenizer.encode(s)).map((j) => map.kept[j]), srcTok.encode(s), s);
  const oids = Array.from(tokenizer.encode('Zebras quickly jumped!'));
  assert.deepEqual(oids, tok.encode('Zebras quickly jumped!'));
  assert.ok(oids.includes(map.fallback) && oids.every((j) => j < map.kept.length));
  assert.equal(srcTok.idToToken(map.kept[map.fallback]), '<unk>');
  await compareGeneration(model, tok.encode(PROMPT), trimmed, 8);
});

test('encoders (BERT, RoBERTa, DistilBERT, ELECTRA, ALBERT, XLM-R): transformers.js AutoModel gives probescale\'s last_hidden_state; MPNet/DeBERTa flagged', async () => {
  const cases = ['hf-tiny/bert', 'hf-tiny/roberta', 'hf-zoo/distilbert', 'hf-zoo/electra', 'hf-zoo/albert', 'hf-zoo/xlm-roberta', 'hf-zoo/mpnet', 'hf-zoo/deberta-v3'];
  for (const f of cases) {
    const input = out(`${f.replace('/', '-')}-in`);
    cpSync(join(FIXTURES, '..', f), input, { recursive: true });
    writeCharTokenizer(input);
    const src = loadModel(input);
    const dir = out(`${f.replace('/', '-')}-out`);
    const res = await materialize(src, [0, src.arch.layers - 1], dir, { vocab: { used: (await src.tokenizer()).encode('hello world, a test.'), specials: [] } });
    const supported = !/mpnet|deberta/.test(f);
    assert.equal(res.compat.transformersJs, supported, `${f}: ${res.compat.notes}`);
    if (!supported) {
      assert.match(res.compat.notes.join(), /does not feed/);
      continue;
    }
    const { model, tok } = await ours(dir);
    // the input sentence has removed pieces (trimmed vocabulary) and padding-sensitive positions (RoBERTa)
    const tokenizer = await compareFeatures(model, tok.encode('hello world, a quiz!'), dir);
    assert.deepEqual(Array.from(tokenizer.encode('hello world, a quiz!')), tok.encode('hello world, a quiz!'), f);
  }
});

test('every causal family: transformers.js AutoModelForCausalLM.generate through the exported cache gives probescale\'s greedy ids', async () => {
  const cases = ['hf-tiny/gpt2', 'hf-tiny/llama', 'hf-zoo/llama3-rope', 'hf-zoo/qwen2', 'hf-zoo/mistral', 'hf-zoo/gemma', 'hf-zoo/gemma2', 'hf-zoo/phi3', 'hf-zoo/pythia', 'hf-zoo/phi', 'hf-zoo/opt'];
  for (const f of cases) {
    const input = out(`${f.replace('/', '-')}-dec-in`);
    cpSync(join(FIXTURES, '..', f), input, { recursive: true });
    writeCharTokenizer(input);
    const src = loadModel(input);
    const dir = out(`${f.replace('/', '-')}-dec-out`);
    const res = await materialize(src, [0, src.arch.layers - 1], dir);
    assert.ok(res.compat.transformersJs, `${f}: ${res.compat.notes}`);
    // 12 new tokens: past Mistral's (6) and Gemma 2's (8) sliding windows
    await compareGeneration(loadModel(dir), [5, 6, 7], dir, 12);
  }
});
