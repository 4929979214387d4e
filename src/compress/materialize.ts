/**
 * Write a kept-layer subnetwork as a standalone Hugging Face checkpoint: layers renumbered 0..k-1,
 * canonical names kept, config layer count updated, tokenizer files copied, plus the ONNX graph the engine
 * runs for it. How the subset is written is the family spec's writeSubset (T5's position table, kept in
 * block 0, moves to the new block 0 when block 0 is dropped). The directory appears whole or not at all.
 */
import { copyFileSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedModel } from '../model/checkpoint.js';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors.js';
import { FAMILIES } from '../engine/families/index.js';
import { t5HasDecoder } from '../engine/families/t5.js';
import { WeightStore } from '../model/weights.js';
import { parseConfig } from '../model/config.js';
import { writeDirAtomic } from '../util/atomic.js';
import { ProbescaleError } from '../util/errors.js';
import { findLlama2cTokenizer } from '../model/llama2c.js';
import { trimVocabulary, type VocabMap } from './vocab.js';
import type { Bridges } from './heal.js';
import type { GraphOptions } from '../engine/family.js';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.bin', 'tokenizer.model', 'vocab.txt'];

export interface MaterializeResult {
  dir: string;
  parameters: number;
  tensors: number;
  /** Bytes on disk of what was written (the int8 ONNX only with `quantize`). */
  bytes: { safetensors: number; onnx: number; onnxQuantized?: number };
  /** Parameters before vocabulary trimming (kept layers + everything else). */
  parametersBeforeTrim: number;
}

/** Tensors and config of the subnetwork, in memory (the family spec's writeSubset). */
export function subnetwork(model: LoadedModel, layers: number[]): { config: Record<string, unknown>; tensors: Record<string, TensorToWrite> } {
  const spec = FAMILIES[model.arch.family];
  return spec.writeSubset(spec, model.arch, model.weights, layers);
}

export interface MaterializeOptions {
  head?: Record<string, TensorToWrite>;
  headInfo?: unknown;
  /** Trim the vocabulary to these token ids (+ specials). */
  vocab?: { used: Iterable<number>; specials: number[] };
  /** Healing bridges (compress/heal.ts), keyed by the kept-layer position they precede. */
  bridges?: Bridges;
  /** replace outDir even if it holds files probescale did not write (the user's --overwrite) */
  overwrite?: boolean;
  /** Also write the int8 graph (GraphBuilder precision int8) as model_quantized.onnx, transformers.js's name for it. */
  quantize?: 'int8';
}

export async function materialize(model: LoadedModel, layers: number[], outDir: string, extra: MaterializeOptions = {}): Promise<MaterializeResult> {
  if (layers.length === 0) throw new ProbescaleError('cannot write a model with no layers', { fix: 'raise the budget so at least one layer fits' });
  const sub = subnetwork(model, layers);
  const config = sub.config;
  let tensors = sub.tensors;
  let parametersBeforeTrim = 0;
  for (const t of Object.values(tensors)) parametersBeforeTrim += t.data.length;
  let vocabMap: VocabMap | undefined;
  if (extra.vocab) {
    const trimmed = trimVocabulary(model, tensors, extra.vocab.used, extra.vocab.specials);
    tensors = trimmed.tensors;
    vocabMap = trimmed.map;
    config.vocab_size = trimmed.map.kept.length;
  }
  const bridgePositions = Object.keys(extra.bridges ?? {}).map(Number);
  for (const j of bridgePositions) {
    const b = extra.bridges![j];
    const C = model.arch.hidden;
    tensors[`probescale.bridge.${j}.weight`] = { dtype: 'F32', shape: [C, C], data: b.weight };
    tensors[`probescale.bridge.${j}.bias`] = { dtype: 'F32', shape: [C], data: b.bias };
  }
  config.probescale = { source: model.source, kept_layers: layers, original_layers: model.arch.layers, bridges: bridgePositions };
  let parameters = 0;
  for (const t of Object.values(tensors)) parameters += t.data.length;
  // The ONNX graph is built from the written tensors, exactly as the loader will see them.
  const arch = parseConfig(config, join(outDir, 'config.json'));
  const store = WeightStore.fromTensors(Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { data: t.data as Float32Array, shape: t.shape }])), outDir);
  const graphOptions: GraphOptions = { layers: layers.map((_, j) => j), decoderLayers: arch.t5 && t5HasDecoder(arch, store) ? Array.from({ length: arch.t5.decoderLayers }, (_, i) => i) : [], hiddenStates: 'last', logits: true, bridges: extra.bridges };
  const graph = FAMILIES[arch.family].build(arch, store, graphOptions);
  const quantized = extra.quantize ? FAMILIES[arch.family].build(arch, store, { ...graphOptions, precision: extra.quantize }) : undefined;
  const srcDir = existsSync(join(model.source, 'config.json')) ? model.source : dirname(model.source);
  await writeDirAtomic(outDir, (tmp) => {
    writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt', producer: 'probescale' });
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    writeFileSync(join(tmp, 'model.onnx'), graph.bytes);
    if (quantized) writeFileSync(join(tmp, 'model_quantized.onnx'), quantized.bytes);
    for (const f of TOKENIZER_FILES) if (existsSync(join(srcDir, f))) copyFileSync(join(srcDir, f), join(tmp, f));
    const llama2cTok = model.source.endsWith('.bin') ? findLlama2cTokenizer(model.source) : undefined;
    if (llama2cTok) copyFileSync(llama2cTok, join(tmp, 'tokenizer.bin')); // llama2.c source: canonical name
    if (vocabMap) writeFileSync(join(tmp, 'vocab_map.json'), JSON.stringify(vocabMap) + '\n');
    if (extra.head) writeSafetensors(join(tmp, 'head.safetensors'), extra.head, { producer: 'probescale' });
    if (extra.headInfo) writeFileSync(join(tmp, 'head.json'), JSON.stringify(extra.headInfo, null, 2) + '\n');
  }, { overwrite: extra.overwrite, what: `probescale compressed model of ${model.source}` });
  const size = (f: string) => statSync(join(outDir, f)).size;
  const bytes = { safetensors: size('model.safetensors'), onnx: size('model.onnx'), ...(quantized ? { onnxQuantized: size('model_quantized.onnx') } : {}) };
  return { dir: outDir, parameters, tensors: Object.keys(tensors).length, bytes, parametersBeforeTrim };
}

/** Bytes of a checkpoint's weight files: a llama2.c .bin, or the .safetensors / .bin weight files of a folder. */
export function checkpointBytes(source: string): number {
  if (!statSync(source).isDirectory()) return statSync(source).size;
  return readdirSync(source)
    .filter((f) => /\.safetensors$/.test(f) || (/\.bin$/.test(f) && !/^(tokenizer|training_args)\.bin$/.test(f)))
    .reduce((a, f) => a + statSync(join(source, f)).size, 0);
}
