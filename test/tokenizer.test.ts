/**
 * tokenizer.json through @huggingface/tokenizers: a small BERT-style WordPiece tokenizer (built here, in the
 * format `tokenizers` saves) next to the tiny BERT fixture; special tokens, pairs and word alignment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../src/engine/load.js';
import { alignWords, specialTokenFrame } from '../src/features/align.js';
import { Engine } from '../src/engine/engine.js';
import { FIXTURES } from './helpers.js';

const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const words = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', '##s', '##ing', '.'];
const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
const vocabList = [...specials, ...words, ...letters, ...letters.map((l) => `##${l}`)];
const vocab = Object.fromEntries(vocabList.map((t, i) => [t, i]));
const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const tokenizerJson = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: specials.map(special),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] } },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
};

test('tokenizer.json (WordPiece) loads through @huggingface/tokenizers and feeds the BERT fixture', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ps-tok-')), 'bert');
  cpSync(join(FIXTURES, 'bert'), dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 64, tokenizer_class: 'BertTokenizer' }));
  const model = loadModel(dir);
  const tok = await model.tokenizer();
  assert.equal(tok.kind, 'hf');
  const v = (t: string) => vocab[t];
  // "cats" -> cat ##s, "Sat" lower-cased, "zzz" -> letters via ##, CLS/SEP around
  assert.deepEqual(tok.encode('The cats Sat.'), [v('[CLS]'), v('the'), v('cat'), v('##s'), v('sat'), v('.'), v('[SEP]')]);
  assert.deepEqual(tok.encode('dog', { pair: 'ran' }), [v('[CLS]'), v('dog'), v('[SEP]'), v('ran'), v('[SEP]')]);
  assert.equal(tok.decode(tok.encode('the dog ran')), 'the dog ran');
  assert.deepEqual(specialTokenFrame(tok), { prefix: [v('[CLS]')], suffix: [v('[SEP]')] });
  const a = alignWords(tok, ['The', 'cats', 'sat']);
  assert.deepEqual(a.ids, [v('[CLS]'), v('the'), v('cat'), v('##s'), v('sat'), v('[SEP]')]);
  assert.deepEqual(a.wordSpans, [[1, 2], [2, 4], [4, 5]]);
  const out = await (await Engine.create(model, { threads: 1, logits: false })).run({ inputIds: [a.ids] });
  assert.deepEqual(out.last_hidden_state.dims, [1, 6, 64]);
  rmSync(join(dir, '..'), { recursive: true });
});
