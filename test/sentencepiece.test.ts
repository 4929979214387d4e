/**
 * SentencePiece .model files through @agnai/sentencepiece-js (Google's SentencePiece in WebAssembly), checked
 * against the llama2.c tokenizer on stories260K's 512-piece vocabulary (tok512.model and tok512.bin are the
 * same vocabulary, exported by llama2.c's tokenizer.py), plus the special-token frames, the loader's file
 * search and its errors. A folder holding a llama2.c .bin is accepted as a model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { loadModel } from '../src/engine/load.js';
import { convertLlama2c } from '../src/model/llama2c.js';
import { Llama2cTokenizer } from '../src/model/llama2c-tokenizer.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { SentencePieceTokenizer } from '../src/model/sentencepiece.js';
import { alignWords, specialTokenFrame } from '../src/features/align.js';
import { ROOT, STORIES, expectProbescaleError, tempDir } from './helpers.js';

const MODEL = join(STORIES, 'tok512.model');
const BIN_TOK = join(STORIES, 'tok512.bin');

function conlluTexts(file: string): string[] {
  return gunzipSync(readFileSync(join(ROOT, 'data', file)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith('# text = '))
    .map((l) => l.slice('# text = '.length));
}

const tmp = () => tempDir('spm');

/**
 * The same file with fields appended: protobuf merges a repeated embedded message field (trainer_spec) into
 * the one before it and appends repeated pieces, which is how Google's parser reads it too.
 */
function patchedModel(dir: string, name: string, opts: { bosId?: number; extraControl?: string[] }): string {
  const w = protobuf.Writer.create();
  if (opts.bosId !== undefined) {
    const spec = protobuf.Writer.create().uint32((41 << 3) | 0).int32(opts.bosId).finish();
    w.uint32((2 << 3) | 2).bytes(spec);
  }
  for (const p of opts.extraControl ?? []) {
    const piece = protobuf.Writer.create().uint32((1 << 3) | 2).string(p).uint32((2 << 3) | 5).float(0).uint32((3 << 3) | 0).int32(3).finish();
    w.uint32((1 << 3) | 2).bytes(piece);
  }
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([readFileSync(MODEL), w.finish()]));
  return path;
}

test('tok512.model gives the llama2.c tokenizer\'s ids on every UD English-EWT dev sentence and on Tiny Shakespeare', async () => {
  const spm = await SentencePieceTokenizer.fromFile(MODEL, { vocab: 512 });
  const l2c = Llama2cTokenizer.fromFile(BIN_TOK, 512);
  assert.equal(spm.kind, 'sentencepiece');
  assert.equal(spm.vocabSize, 512);
  assert.equal(spm.info.modelType, 'bpe');
  for (let id = 0; id < 512; id++) {
    // tokenizer.py exported each piece with SentencePiece's U+2581 turned back into a space, BOS/EOS as "\n<s>\n"
    const exported = id === 1 || id === 2 ? `\n${spm.idToToken(id)}\n` : spm.idToToken(id).replaceAll('\u2581', ' ');
    assert.equal(exported, l2c.pieces[id], `piece ${id}`);
  }
  // the prompts whose ids run.c itself printed (models/stories260K/golden)
  for (const k of [1, 2, 3]) {
    const golden = JSON.parse(readFileSync(join(STORIES, 'golden', `logits_${k}.json`), 'utf8')) as { prompt: string; tokens: number[] };
    assert.deepEqual(spm.encode(golden.prompt), golden.tokens, `golden prompt ${k}`);
  }

  const sentences = conlluTexts('ud-en-ewt/en_ewt-ud-dev.conllu.gz');
  assert.equal(sentences.length, 2001);
  let tokens = 0;
  for (const s of sentences) {
    const ids = spm.encode(s);
    assert.deepEqual(ids, l2c.encode(s), JSON.stringify(s));
    tokens += ids.length;
    assert.equal(spm.decode(ids), s, 'decode inverts encode on single-spaced text');
  }
  assert.ok(tokens > 70_000, `${tokens} tokens compared`);

  // The one expected difference: tok512 was trained with SentencePiece's default remove_extra_whitespaces,
  // so SentencePiece drops leading/trailing whitespace and collapses runs of spaces before encoding, while
  // llama2.c's run.c encodes every space. On such lines SentencePiece equals llama2.c on the collapsed text.
  const lines = gunzipSync(readFileSync(join(ROOT, 'data', 'tinyshakespeare', 'input.txt.gz'))).toString('utf8').split('\n').filter((l) => l.length > 0).slice(0, 6000);
  let collapsed = 0;
  for (const line of lines) {
    if (/^ | $| {2}/.test(line)) {
      collapsed++;
      assert.deepEqual(spm.encode(line), l2c.encode(line.trim().replace(/ {2,}/g, ' ')), JSON.stringify(line));
    } else {
      assert.deepEqual(spm.encode(line), l2c.encode(line), JSON.stringify(line));
    }
  }
  assert.ok(collapsed > 0 && collapsed < 20, `${collapsed} of ${lines.length} lines have whitespace runs`);
  // byte fallback for characters outside the vocabulary, identical in both
  for (const s of ['naïve café – 😀 日本語', 'tab\there', 'new\nline']) assert.deepEqual(spm.encode(s), l2c.encode(s), JSON.stringify(s));
});

test('special-token frames follow the file: BOS (Llama), EOS when there is no BOS (T5), [CLS]/[SEP] (ALBERT, DeBERTa-v3)', async () => {
  const dir = tmp();
  const llama = await SentencePieceTokenizer.fromFile(MODEL);
  const plain = llama.encode('The dog ran.', { specialTokens: false });
  assert.deepEqual(llama.encode('The dog ran.'), [1, ...plain]);
  assert.deepEqual(llama.encode('The dog ran.', { pair: 'It sat.' }), [1, ...plain, 1, ...llama.encode('It sat.', { specialTokens: false })]);
  assert.deepEqual(specialTokenFrame(llama), { prefix: [1], suffix: [] });

  const t5 = await SentencePieceTokenizer.fromFile(patchedModel(dir, 't5.model', { bosId: -1 }));
  assert.equal(t5.info.bosId, -1);
  assert.deepEqual(t5.encode('The dog ran.'), [...plain, 2]);
  assert.deepEqual(t5.encode('a', { pair: 'b' }), [...t5.encode('a', { specialTokens: false }), 2, ...t5.encode('b', { specialTokens: false }), 2]);

  const bert = await SentencePieceTokenizer.fromFile(patchedModel(dir, 'spm.model', { extraControl: ['[CLS]', '[SEP]'] }));
  assert.equal(bert.vocabSize, 514);
  assert.deepEqual(bert.encode('The dog ran.'), [512, ...plain, 513]);
  assert.deepEqual(bert.encode('a', { pair: 'b' }), [512, ...bert.encode('a', { specialTokens: false }), 513, ...bert.encode('b', { specialTokens: false }), 513]);
  assert.equal(bert.decode(bert.encode('The dog ran.')), 'The dog ran.', 'control pieces are skipped when decoding');
  // control pieces are never produced from text
  assert.deepEqual(bert.encode('[CLS]', { specialTokens: false }), llama.encode('[CLS]', { specialTokens: false }));
  const aligned = alignWords(bert, ['The', 'dog', 'ran.']);
  assert.deepEqual(aligned.ids, bert.encode('The dog ran.'), 'per-word pieces are those of running text');

  // tokenizer_config.json overrides, as HF's LlamaTokenizer reads them
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, add_eos_token: true }));
  const noBos = await SentencePieceTokenizer.fromFile(patchedModel(dir, 'tokenizer.model', {}));
  assert.deepEqual(noBos.encode('The dog ran.'), [...plain, 2]);
  rmSync(dir, { recursive: true });
});

test('ALBERT text preprocessing (model_type albert, or tokenizer_config flags): spaces collapsed, accents stripped, lower-cased', async () => {
  const dir = tmp();
  const path = patchedModel(dir, 'spiece.model', { extraControl: ['[CLS]', '[SEP]'] });
  const albert = await SentencePieceTokenizer.fromFile(path, { modelType: 'albert' });
  const raw = await SentencePieceTokenizer.fromFile(path);
  assert.deepEqual(albert.encode('  Héllo   ``Wörld\'\'  '), raw.encode('hello "world"'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, keep_accents: true }));
  const cased = await SentencePieceTokenizer.fromFile(path, { modelType: 'albert' });
  assert.deepEqual(cased.encode('Héllo'), raw.encode('Héllo'));
  rmSync(dir, { recursive: true });
});

test('a Hugging Face folder with only a SentencePiece tokenizer.model loads it (converted stories260K)', async () => {
  const dir = join(tmp(), 'hf');
  await convertLlama2c(join(STORIES, 'stories260K.bin'), dir);
  for (const f of ['tokenizer.bin', 'tokenizer.json', 'tokenizer_config.json']) unlinkSync(join(dir, f)); // keep only the SentencePiece file
  const model = loadModel(dir);
  const tok = await model.tokenizer();
  assert.equal(tok.kind, 'sentencepiece');
  const l2c = Llama2cTokenizer.fromFile(BIN_TOK, 512);
  for (const s of conlluTexts('ud-en-ewt/en_ewt-ud-test.conllu.gz').slice(0, 300)) assert.deepEqual(tok.encode(s), l2c.encode(s));
  assert.equal(await model.tokenizer(), tok, 'loaded once');
  // the other names Hugging Face repositories use, and --tokenizer FILE
  for (const name of ['spiece.model', 'spm.model']) {
    const d2 = join(tmp(), 'm');
    mkdirSync(d2);
    copyFileSync(MODEL, join(d2, name));
    assert.equal((await loadTokenizer(d2)).kind, 'sentencepiece', name);
    rmSync(join(d2, '..'), { recursive: true });
  }
  assert.equal((await loadTokenizer(MODEL)).kind, 'sentencepiece');
  rmSync(join(dir, '..'), { recursive: true });
});

test('SentencePiece errors name the file: not a model, pieces beyond vocab_size, XLM-R\'s offset ids', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.model'), Buffer.from('this is not a protobuf at all, just text that goes on'));
  await expectProbescaleError(() => SentencePieceTokenizer.fromFile(join(dir, 'bad.model')), /bad\.model/, /SentencePiece/);
  writeFileSync(join(dir, 'empty.model'), Buffer.alloc(0));
  await expectProbescaleError(() => SentencePieceTokenizer.fromFile(join(dir, 'empty.model')), /empty\.model: SentencePiece model has no pieces/);
  await expectProbescaleError(() => SentencePieceTokenizer.fromFile(MODEL, { vocab: 256 }), /tok512\.model: SentencePiece model has 512 pieces but the model's vocab_size is 256/);
  const xlmr = join(dir, 'xlmr');
  mkdirSync(xlmr);
  copyFileSync(MODEL, join(xlmr, 'sentencepiece.bpe.model'));
  await expectProbescaleError(() => loadTokenizer(xlmr), /sentencepiece\.bpe\.model/, /tokenizer\.json/);
  rmSync(dir, { recursive: true });
});

test('a folder holding one llama2.c .bin is that model; several or none give one clear error', async () => {
  const model = loadModel(STORIES); // models/stories260K: stories260K.bin + tok512.bin + tok512.model
  assert.equal(model.source, join(STORIES, 'stories260K.bin'));
  assert.equal(model.arch.layers, 5);
  assert.equal((await model.tokenizer()).kind, 'llama2c');

  const dir = join(tmp(), 'two');
  mkdirSync(dir);
  cpSync(join(STORIES, 'stories260K.bin'), join(dir, 'a.bin'));
  cpSync(join(STORIES, 'stories260K.bin'), join(dir, 'b.bin'));
  cpSync(BIN_TOK, join(dir, 'tok512.bin'));
  await expectProbescaleError(() => loadModel(dir), /2 llama2\.c checkpoints \(a\.bin, b\.bin\)/, /--model .*a\.bin/);
  unlinkSync(join(dir, 'a.bin'));
  unlinkSync(join(dir, 'b.bin'));
  await expectProbescaleError(() => loadModel(dir), /config\.json not found, and no llama2\.c \.bin checkpoint either/);
  rmSync(join(dir, '..'), { recursive: true });
});
