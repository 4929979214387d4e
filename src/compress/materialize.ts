/**
 * Write a kept-layer subnetwork as a standalone Hugging Face checkpoint: layers renumbered 0..k-1,
 * canonical names kept, config layer count updated, tokenizer files (tokenizer.json + tokenizer_config.json,
 * built from the llama2.c vocabulary for a llama2.c source; renumbered with a trimmed vocabulary, see
 * hf-files.ts), generation_config.json for causal LMs, plus the ONNX graph in the transformers.js layout
 * (onnx/model.onnx; causal LMs with past_key_values/present where the family has a cache graph). How the subset is written is the family spec's writeSubset (T5's position table, kept in
 * block 0, moves to the new block 0 when block 0 is dropped). The directory appears whole or not at all.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedModel } from '../model/checkpoint.js';
import { toFloat32, writeSafetensors, type TensorToWrite } from '../model/safetensors.js';
import { floatToHalf } from '../util/half.js';
import { FAMILIES } from '../engine/families/index.js';
import { t5HasDecoder } from '../engine/families/t5.js';
import { robertaPositions } from '../engine/families/roberta.js';
import { sequentialPositions, type GraphOptions } from '../engine/family.js';
import { dominantFloatDtype, WeightStore } from '../model/weights.js';
import { parseConfig } from '../engine/load.js';
import { writeDirAtomic } from '../util/atomic.js';
import { ProbescaleError } from '../util/errors.js';
import { findLlama2cTokenizer } from '../model/llama2c.js';
import { Llama2cTokenizer } from '../model/llama2c-tokenizer.js';
import { llama2cToHf } from '../model/hf-tokenizer.js';
import { HEALED_MODEL_TYPE } from '../model/config.js';
import { trimVocabulary, type VocabMap } from './vocab.js';
import type { Bridges } from './heal.js';
import { bpeClosure, canTrimTokenizer, generationConfig, remapConfigIds, tokenizerSpecials, trimTokenizerConfig, trimTokenizerJson, type HfCompatibility } from './hf-files.js';

/** Tokenizer files other than tokenizer.json / tokenizer_config.json: copied as they are unless the vocabulary was renumbered. */
const OTHER_TOKENIZER_FILES = ['special_tokens_map.json', 'tokenizer.bin', 'tokenizer.model', 'vocab.txt', 'merges.txt', 'vocab.json'];
/** Files that spell ids in the original numbering: dropped when tokenizer.json carries the trimmed ids. */
const ID_FILES = new Set(['tokenizer.bin', 'tokenizer.model', 'vocab.txt', 'merges.txt', 'vocab.json']);

export interface MaterializeResult {
  dir: string;
  parameters: number;
  tensors: number;
  /** Which tools load what was written. */
  compat: HfCompatibility;
  /** Bytes on disk of what was written (the int8 ONNX only with `quantize`). */
  bytes: { safetensors: number; onnx: number; onnxQuantized?: number };
  /** Floating dtype of the source checkpoint, and the one model.safetensors was written in (the same; the ONNX graphs are fp32). */
  dtype: { source: 'F32' | 'F16' | 'BF16'; safetensors: 'F32' | 'F16' | 'BF16' };
  /** Bytes of tensor data in model.safetensors (the file less its header). */
  safetensorsDataBytes: number;
  /** Parameters before vocabulary trimming (kept layers + everything else). */
  parametersBeforeTrim: number;
}

type Json = Record<string, unknown>;

function readJsonIf(path: string): Json | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Json) : undefined;
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
  /** llama2.c tokenizer of a .bin source (default: the one beside it) */
  llama2cTokenizer?: string;
  /** replace outDir even if it holds files probescale did not write (the user's --overwrite) */
  overwrite?: boolean;
  /** Also write the int8 graph (GraphBuilder precision int8) as onnx/model_quantized.onnx, transformers.js's name for it. */
  quantize?: 'int8';
}

export async function materialize(model: LoadedModel, layers: number[], outDir: string, extra: MaterializeOptions = {}): Promise<MaterializeResult> {
  if (layers.length === 0) throw new ProbescaleError('cannot write a model with no layers', { fix: 'raise the budget so at least one layer fits' });
  const sub = subnetwork(model, layers);
  let config: Json = sub.config;
  let tensors = sub.tensors;
  let parametersBeforeTrim = 0;
  for (const t of Object.values(tensors)) parametersBeforeTrim += t.data.length;
  const notes: string[] = [];
  const srcDir = existsSync(join(model.source, 'config.json')) ? model.source : dirname(model.source);
  // the Hugging Face tokenizer: the source's, or built from a llama2.c vocabulary
  let tokJson = readJsonIf(join(srcDir, 'tokenizer.json'));
  let tokConfig = readJsonIf(join(srcDir, 'tokenizer_config.json'));
  const llama2cTok = model.source.endsWith('.bin') ? (extra.llama2cTokenizer ?? findLlama2cTokenizer(model.source)) : existsSync(join(srcDir, 'tokenizer.bin')) ? join(srcDir, 'tokenizer.bin') : undefined;
  if (!tokJson && llama2cTok) {
    const hf = llama2cToHf(Llama2cTokenizer.fromFile(llama2cTok, model.arch.vocab), model.arch.maxPositions);
    tokJson = hf.tokenizer;
    tokConfig = hf.config;
  }
  let vocabMap: VocabMap | undefined;
  let tokenizerRenumbered = false;
  if (extra.vocab) {
    const found = tokenizerSpecials(tokJson);
    const configIds = ['bos_token_id', 'eos_token_id', 'pad_token_id', 'decoder_start_token_id'].map((k) => config[k]).filter((v): v is number => typeof v === 'number');
    // RoBERTa-style positions count from pad_token_id: keep every id up to it in place
    const padIds = FAMILIES[model.arch.family].positionIds === robertaPositions && model.arch.padTokenId !== undefined ? Array.from({ length: model.arch.padTokenId + 1 }, (_, i) => i) : [];
    const specials = [...(found.unk !== undefined ? [found.unk] : []), ...extra.vocab.specials, ...found.specials, ...configIds, ...padIds];
    // BPE: keep every piece the merges pass through on the way to a kept piece (hf-files.ts)
    const canRenumber = tokJson !== undefined && canTrimTokenizer(tokJson);
    const trimmed = trimVocabulary(model, tensors, canRenumber ? bpeClosure(tokJson, extra.vocab.used) : extra.vocab.used, specials, found.unk);
    tensors = trimmed.tensors;
    vocabMap = trimmed.map;
    if (found.unk === undefined) notes.push(`no unknown token: removed pieces map to new id 0 (original id ${trimmed.map.kept[0]})`);
    config = remapConfigIds({ ...config, vocab_size: trimmed.map.kept.length }, trimmed.map);
    if (tokJson && canRenumber) {
      tokJson = trimTokenizerJson(tokJson, trimmed.map);
      if (tokConfig) tokConfig = trimTokenizerConfig(tokConfig, trimmed.map);
      tokenizerRenumbered = true;
      vocabMap.tokenizer = 'tokenizer.json';
    } else {
      // a Unigram (or no) tokenizer.json cannot give several pieces one id: only probescale's loader remaps
      if (tokJson) notes.push(`tokenizer.json (${(tokJson.model as Json).type}) cannot be renumbered: not written; probescale remaps ids through vocab_map.json`);
      tokJson = undefined;
    }
  }
  // model.safetensors keeps the source's floating dtype (an f16 checkpoint stays f16, not twice its bytes as fp32);
  // the kept values came from that dtype, so writing them back in it is exact
  const dtype = model.weights.floatDtype();
  tensors = inDtype(tensors, dtype);
  const bridgePositions = Object.keys(extra.bridges ?? {}).map(Number);
  // bridges stay F32: they were fitted here in fp32, and rounding them to f16 would change the healed model that
  // the fp32 ONNX graph computes (they are C x C per bridge, small next to the layers)
  for (const j of bridgePositions) {
    const b = extra.bridges![j];
    const C = model.arch.hidden;
    tensors[`probescale.bridge.${j}.weight`] = { dtype: 'F32', shape: [C, C], data: b.weight };
    tensors[`probescale.bridge.${j}.bias`] = { dtype: 'F32', shape: [C], data: b.bias };
  }
  const sourceType = model.arch.raw.model_type === HEALED_MODEL_TYPE ? (model.arch.raw.probescale as Json).model_type : model.arch.raw.model_type;
  config.probescale = { source: model.source, kept_layers: layers, original_layers: model.arch.layers, bridges: bridgePositions };
  if (bridgePositions.length) {
    // Hugging Face has no class for the bridges: a model_type it does not know makes from_pretrained refuse the
    // folder instead of loading the layers without them (a different model, with only a warning)
    config.model_type = HEALED_MODEL_TYPE;
    config.architectures = [`ProbescaleHealed${((model.arch.raw.architectures as string[] | undefined)?.[0]) ?? String(sourceType)}`];
    (config.probescale as Json).model_type = sourceType;
    notes.push(`healed: config.json says model_type "${HEALED_MODEL_TYPE}" so Hugging Face refuses it; probescale and onnxruntime (onnx/model.onnx) run it with its bridges`);
  }
  let parameters = 0, safetensorsDataBytes = 0;
  for (const t of Object.values(tensors)) {
    parameters += t.data.length;
    safetensorsDataBytes += t.data.byteLength;
  }
  const writtenDtype = dominantFloatDtype(Object.values(tensors).map((t) => [t.dtype, t.data.length]));
  // what Hugging Face's save_pretrained records: the dtype the weights are stored in (from_pretrained(torch_dtype='auto') loads them so)
  config.torch_dtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[writtenDtype];
  // The ONNX graph is built from the written tensors, exactly as the loader will see them.
  const arch = parseConfig(config, join(outDir, 'config.json'));
  const spec = FAMILIES[arch.family];
  const store = WeightStore.fromTensors(Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { data: asLoaded(t, n), shape: t.shape }])), outDir);
  const kvCache = arch.causal && spec.kvCache;
  // encoders compute their positions in the graph: transformers.js feeds only input_ids/attention_mask/token_type_ids
  const positionsInGraph = arch.causal ? undefined : spec.positionIds === robertaPositions ? 'padding-offset' : spec.positionIds === sequentialPositions ? 'sequential' : undefined;
  const graphOptions: GraphOptions = { layers: Array.from({ length: arch.layers }, (_, j) => j), decoderLayers: arch.t5 && t5HasDecoder(arch, store) ? Array.from({ length: arch.t5.decoderLayers }, (_, i) => i) : [], hiddenStates: 'last', logits: true, bridges: extra.bridges, kvCache, positionsInGraph };
  const graph = spec.build(arch, store, graphOptions);
  const quantized = extra.quantize ? spec.build(arch, store, { ...graphOptions, precision: extra.quantize }) : undefined;
  // inputs transformers.js feeds: ids, mask, token types; decoders also positions and the cache
  const foreignFeeds = graph.feeds.filter((f) => !['input_ids', 'attention_mask', 'token_type_ids', ...(kvCache ? ['position_ids'] : [])].includes(f));
  if (foreignFeeds.length && !arch.t5) notes.push(`onnx/model.onnx also takes ${foreignFeeds.join(', ')}, which transformers.js does not feed`);
  if (arch.causal && !kvCache) notes.push(`onnx/model.onnx has no key/value cache (${arch.family}): transformers.js generation is not supported`);
  if (arch.t5) notes.push('T5: onnx/model.onnx is probescale\'s single graph, not transformers.js\'s encoder_model/decoder_model split');
  const writeGenConfig = arch.causal;
  await writeDirAtomic(outDir, (tmp) => {
    writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt', producer: 'probescale' });
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    if (writeGenConfig) writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify(generationConfig(config), null, 2) + '\n');
    mkdirSync(join(tmp, 'onnx'));
    writeFileSync(join(tmp, 'onnx', 'model.onnx'), graph.bytes);
    if (quantized) writeFileSync(join(tmp, 'onnx', 'model_quantized.onnx'), quantized.bytes);
    if (tokJson) writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(tokJson) + '\n');
    // tokenizer_config.json: the source's (renumbered with tokenizer.json), or a minimal one beside tokenizer.json
    if (tokConfig || tokJson) writeFileSync(join(tmp, 'tokenizer_config.json'), JSON.stringify(tokConfig ?? { model_max_length: model.arch.maxPositions }, null, 2) + '\n');
    for (const f of OTHER_TOKENIZER_FILES) {
      if (tokenizerRenumbered && ID_FILES.has(f)) continue;
      if (existsSync(join(srcDir, f))) copyFileSync(join(srcDir, f), join(tmp, f));
    }
    if (llama2cTok && !tokenizerRenumbered) copyFileSync(llama2cTok, join(tmp, 'tokenizer.bin')); // llama2.c source: canonical name
    if (vocabMap) writeFileSync(join(tmp, 'vocab_map.json'), JSON.stringify(vocabMap) + '\n');
    if (extra.head) writeSafetensors(join(tmp, 'head.safetensors'), extra.head, { producer: 'probescale' });
    if (extra.headInfo) writeFileSync(join(tmp, 'head.json'), JSON.stringify(withFeatureNote(extra.headInfo, arch.causal, !!arch.t5), null, 2) + '\n');
  }, { overwrite: extra.overwrite, what: `probescale compressed model of ${model.source}` });
  const healed = bridgePositions.length > 0;
  const compat: HfCompatibility = {
    transformers: !healed && (tokJson !== undefined || !vocabMap),
    transformersJs: !healed && !arch.t5 && (!arch.causal || kvCache) && foreignFeeds.length === 0 && tokJson !== undefined,
    tokenizer: tokJson !== undefined,
    notes,
  };
  const size = (f: string) => statSync(join(outDir, f)).size;
  const bytes = { safetensors: size('model.safetensors'), onnx: size(join('onnx', 'model.onnx')), ...(quantized ? { onnxQuantized: size(join('onnx', 'model_quantized.onnx')) } : {}) };
  return { dir: outDir, parameters, tensors: Object.keys(tensors).length, compat, bytes, parametersBeforeTrim, dtype: { source: dtype, safetensors: writtenDtype }, safetensorsDataBytes };
}

/** F32 tensors in the checkpoint's dtype (F16 / BF16, stored as Uint16 bits) where that is exact; other tensors as they are. */
function inDtype(tensors: Record<string, TensorToWrite>, dtype: 'F32' | 'F16' | 'BF16'): Record<string, TensorToWrite> {
  if (dtype === 'F32') return tensors;
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') {
      out[name] = t;
      continue;
    }
    const f = t.data as Float32Array;
    let bits: Uint16Array;
    if (dtype === 'F16') bits = Uint16Array.from(f, floatToHalf);
    else {
      // bf16: round to nearest even on the upper 16 bits (exact for values read from a bf16 checkpoint)
      const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
      bits = new Uint16Array(f.length);
      for (let i = 0; i < u.length; i++) bits[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
    }
    const rounded: TensorToWrite = { dtype, shape: t.shape, data: bits };
    // a tensor the source did not hold in this dtype (a healed source's fp32 bridges) stays F32 rather than lose bits
    const back = asLoaded(rounded, name);
    let exact = true;
    for (let i = 0; i < f.length && exact; i++) exact = back[i] === f[i];
    out[name] = exact ? rounded : t;
  }
  return out;
}

/** The fp32 values the loader will read back from a written tensor (the ONNX graph is built from exactly these). */
function asLoaded(t: TensorToWrite, name: string): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  const d = t.data as Uint16Array;
  return toFloat32({ dtype: t.dtype as 'F16' | 'BF16', shape: t.shape, bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) }, name);
}

/** Bytes of a checkpoint's weight files: a llama2.c .bin, or the .safetensors / .bin weight files of a folder. */
export function checkpointBytes(source: string): number {
  if (!statSync(source).isDirectory()) return statSync(source).size;
  return readdirSync(source)
    .filter((f) => /\.safetensors$/.test(f) || (/\.bin$/.test(f) && !/^(tokenizer|training_args)\.bin$/.test(f)))
    .reduce((a, f) => a + statSync(join(source, f)).size, 0);
}

/**
 * head.json says which tensor the heads read: the written model's last_hidden_state (Hugging Face
 * `outputs.last_hidden_state`, = hidden_states[-1]: after the final norm in pre-norm models), pooled per task
 * as each task's `input` says (last token for decoders run with --pooling last).
 */
function withFeatureNote(info: unknown, causal: boolean, t5: boolean): unknown {
  if (!info || typeof info !== 'object') return info;
  return {
    features: {
      hidden_state: t5 ? 'encoder last_hidden_state (T5EncoderModel output, after the final RMSNorm)' : 'last_hidden_state (= hidden_states[-1]; after the final norm in pre-norm models)',
      model: causal ? 'the written decoder run on the whole sentence (no cache)' : 'the written encoder',
      pooling: 'per task: see tasks.<name>.input (token tasks: first sub-token of each word)',
    },
    ...(info as Json),
  };
}
