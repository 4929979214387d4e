import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/load.js';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { maxSequenceTokens } from '../../src/engine/load.js';
import { alignWords, spaceMarksWords } from '../../src/features/align.js';
import { Engine } from '../../src/engine/engine.js';
import { ROOT } from '../helpers.js';

const MINI_GPT = join(ROOT, 'models', 'mini-gpt');

test('byte-level BPE: pre-split words get the ids of running text (leading space after the first word)', async () => {
  const model = loadModel(MINI_GPT);
  const tok = await loadTokenizer(MINI_GPT, model.arch);
  assert.ok(spaceMarksWords(tok));
  const words = ['The', 'president', 'said', 'it', 'was', 'new', '.'];
  const aligned = alignWords(tok, words);
  // as Hugging Face's is_split_into_words with add_prefix_space: every word after the first follows a space
  assert.deepEqual(aligned.ids, tok.encode('The president said it was new .', { specialTokens: false }));
  assert.equal(aligned.wordSpans.length, words.length);
});

test('a sequence longer than the position table is a clear error, not an onnxruntime crash', async () => {
  const model = loadModel(MINI_GPT);
  assert.equal(maxSequenceTokens(model.arch), 64);
  const engine = await Engine.create(model, { threads: 1 });
  await assert.rejects(engine.run({ inputIds: [Array.from({ length: 65 }, (_, i) => 10 + i)] }), /65 tokens is longer than this model's 64 positions[\s\S]*fix: truncate inputs to 64 tokens/);
  await engine.release();
});
