/**
 * Dump what the PyTorch reference (mlm_reference.py) needs to check our masked-LM training:
 *   OUT/streams.safetensors  train/held-out token streams (I64) as pretrain() encodes them
 *   OUT/step.safetensors     initial parameters, one makeBatch() batch, our loss and every gradient
 * Usage: node --import tsx bench/train/mlm/dump.ts OUT [--tokenizer tokenizer.json] [--set k=v,...] [--model roberta-m] [--params checkpoint.safetensors]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { encodeSafetensors, readSafetensors, toFloat32, type TensorToWrite } from '../../../src/model/safetensors.js';
import { trainByteLevelBpe, tokenizerJson } from '../../../src/train/bpe.js';
import { pretrainingCorpus } from '../../../src/train/corpus.js';
import { robertaModel } from '../../../src/train/models/roberta.js';
import { encodeStream, makeBatch, SPECIALS, specByName } from '../../../src/train/pretrain.js';
import { Trainer } from '../../../src/train/trainer.js';
import { mulberry32 } from '../../../src/util/random.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { tokenizer: { type: 'string' }, set: { type: 'string', default: '' }, model: { type: 'string', default: 'roberta-m' }, params: { type: 'string' } } });
const out = positionals[0];
if (!out) throw new Error('usage: dump.ts OUT [--tokenizer FILE] [--set k=v,...] [--model NAME]');
mkdirSync(out, { recursive: true });
const spec = specByName(values.model!, values.set);
const corpus = pretrainingCorpus({ brown: spec.brown });
const train = spec.maxDocs ? corpus.train.slice(0, spec.maxDocs) : corpus.train;
const held = spec.maxDocs ? corpus.heldOut.slice(0, spec.maxDocs) : corpus.heldOut;
const tokJson = values.tokenizer ? JSON.parse(readFileSync(values.tokenizer, 'utf8')) : tokenizerJson(trainByteLevelBpe(train, spec.vocab, SPECIALS), SPECIALS, 'roberta');
writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokJson));
const tok = new Tokenizer(tokJson, {});
const vocab = Object.keys(tokJson.model.vocab).length;
const trainStream = encodeStream(tok, train, 'mlm');
const heldStream = encodeStream(tok, held, 'mlm');
const i64 = (a: Int32Array | BigInt64Array): TensorToWrite => ({ dtype: 'I64', shape: [a.length], data: a instanceof BigInt64Array ? a : BigInt64Array.from(a, BigInt) });
writeFileSync(join(out, 'streams.safetensors'), Buffer.concat(encodeSafetensors({ train: i64(trainStream), held: i64(heldStream) }, { vocab: String(vocab) })));

const shape = { vocab, seq: spec.seq, hidden: spec.hidden, layers: spec.layers, heads: spec.heads, intermediate: spec.intermediate, padTokenId: 1, sinusoidalPositions: spec.sinusoidal, qkStd: spec.qkStd };
const model = robertaModel(shape);
// --params CHECKPOINT: start from a training checkpoint's parameters (param/NAME tensors) instead of the init
const given = values.params ? new Map([...readSafetensors(values.params).tensors].filter(([n]) => n.startsWith('param/')).map(([n, t]) => [n.slice(6), toFloat32(t, n, values.params!)])) : undefined;
const trainer = await Trainer.create(model, { batch: spec.batch, seq: spec.seq, lr: spec.lr, seed: spec.seed, threads: 1, params: given });
const rand = mulberry32(spec.seed + 1000);
const starts = Array.from({ length: spec.batch }, () => Math.floor(rand() * (trainStream.length - spec.seq - 1)));
const batch = makeBatch(trainStream, starts, spec.seq, 'mlm', vocab, rand, spec.maskRate);
const { loss, grads } = await trainer.gradients(batch);
const shapes = new Map(model.paramShapes());
const tensors: Record<string, TensorToWrite> = {};
for (const [n, p] of trainer.params) {
  tensors[`param/${n}`] = { dtype: 'F32', shape: shapes.get(n)!, data: p };
  tensors[`grad/${n}`] = { dtype: 'F32', shape: shapes.get(n)!, data: grads.get(n)! };
}
const B = spec.batch;
const T = spec.seq;
tensors['batch/input_ids'] = { dtype: 'I64', shape: [B, T], data: batch.input_ids };
tensors['batch/position_ids'] = { dtype: 'I64', shape: [B, T], data: batch.position_ids };
tensors['batch/targets'] = { dtype: 'I64', shape: [B * T], data: batch.targets };
tensors['batch/loss_weights'] = { dtype: 'F32', shape: [B * T], data: batch.loss_weights };
tensors['batch/starts'] = { dtype: 'I64', shape: [B], data: BigInt64Array.from(starts, BigInt) };
const meta = { loss: String(loss), spec: JSON.stringify({ ...spec, vocab }), mask_id: String(SPECIALS.indexOf('<mask>')) };
writeFileSync(join(out, 'step.safetensors'), Buffer.concat(encodeSafetensors(tensors, meta)));
console.log(`vocab ${vocab}, train ${trainStream.length} / held ${heldStream.length} tokens; loss ${loss}; wrote ${out}`);
await trainer.release();
