/**
 * Runs a model (or any ordered subset of its layers) on onnxruntime-node.
 * The graph is built once per layer list from weights that were read once; inputs are a right-padded
 * batch of token ids plus an attention mask; outputs are named as in the golden files.
 */
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedModel } from '../model/checkpoint.js';
import { bucketMatrix } from '../model/t5-buckets.js';
import { debertaRelativePositions } from '../model/deberta-buckets.js';
import { maxSequenceTokens } from './load.js';
import { ProbescaleError } from '../util/errors.js';
import { checkBatchShape, checkIdsInVocab } from './inputs.js';
import { checkThreads, defaultThreads } from '../util/threads.js';
import { FAMILIES } from './families/index.js';
import type { BuiltGraph, FeedName, GraphOptions } from './family.js';
import type { Precision } from './graph.js';
import { t5HasDecoder } from './families/t5.js';

/** Above this many weight bytes, graphs are built with external data (see Engine.create). */
export const EXTERNAL_DATA_BYTES = 64 * 2 ** 20;

export interface EngineOptions {
  /** Original layer indices to run, in order (default: all). */
  layers?: number[];
  /** T5: decoder layers to run (default: all when logits are asked for, none otherwise). */
  decoderLayers?: number[];
  hiddenStates?: 'all' | 'last';
  logits?: boolean;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** Healing bridges (default: those stored in a healed checkpoint). */
  bridges?: GraphOptions['bridges'];
  /** Build with an external-data file (default: when the weights exceed EXTERNAL_DATA_BYTES). */
  externalData?: boolean;
  /** Causal LMs: build the key/value-cache graph (Batch.past in, present.{j}.key/value out). */
  kvCache?: boolean;
  /** fp32 (default) or int8 linear layers (see GraphBuilder). */
  precision?: Precision;
}

/** A key/value cache: the present.{j}.key/value outputs of the previous run, [batch, kv_heads, seq, head_dim]. */
export type KvCache = Record<string, OutputTensor>;

/** A right-padded batch; ids as number[][] (ragged rows are padded) or a flat BigInt64Array + dims. */
export interface Batch {
  inputIds: number[][];
  attentionMask?: number[][];
  tokenTypeIds?: number[][];
  decoderInputIds?: number[][];
  decoderAttentionMask?: number[][];
  /**
   * Key/value-cache engines: the previous run's present.* outputs (none on the first run). inputIds are the
   * new tokens only; attentionMask, when given, covers past + new positions.
   */
  past?: KvCache;
}

export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export class Engine {
  private constructor(
    readonly model: LoadedModel,
    readonly options: GraphOptions,
    readonly outputNames: string[],
    private readonly feeds: FeedName[],
    private readonly session: ort.InferenceSession,
    /** Set for key/value-cache engines (EngineOptions.kvCache). */
    readonly cache?: BuiltGraph['cache'],
  ) {}

  static async create(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
    const arch = model.arch;
    const layers = validateLayers(opts.layers ?? range(arch.layers), arch.layers, 'layers', model.source);
    // T5's decoder runs when its logits or decoder layers are asked for; probing reads the encoder alone
    const withDecoder = !!arch.t5 && t5HasDecoder(arch, model.weights) && (opts.decoderLayers !== undefined || (opts.logits ?? true));
    const decoderLayers = withDecoder ? validateLayers(opts.decoderLayers ?? range(arch.t5!.decoderLayers), arch.t5!.decoderLayers, 'decoder layers', model.source) : [];
    if (opts.kvCache && !FAMILIES[arch.family].kvCache) throw new ProbescaleError(`${arch.family} has no key/value-cache graph (supported: ${Object.entries(FAMILIES).filter(([, s]) => s.kvCache).map(([f]) => f).join(', ')})`, { file: model.source });
    const options: GraphOptions = { layers, decoderLayers, hiddenStates: opts.hiddenStates ?? 'all', logits: opts.logits ?? true, bridges: opts.bridges ?? storedBridges(model), kvCache: opts.kvCache, precision: opts.precision ?? 'fp32' };
    const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: checkThreads(opts.threads) ?? defaultThreads(), interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    // Large models stream their weights to a temporary external-data file while the graph is built:
    // no transposed copies and no protobuf holding them sit in memory next to onnxruntime's own copy.
    if (opts.externalData ?? model.weights.parameterCount() * 4 > EXTERNAL_DATA_BYTES) {
      const dir = mkdtempSync(join(tmpdir(), 'probescale-graph-'));
      try {
        const built = FAMILIES[arch.family].build(arch, model.weights, options, join(dir, 'weights.bin'));
        writeFileSync(join(dir, 'model.onnx'), built.bytes);
        // Arena on, memory pattern off: with the arena off every run mapped its activations afresh (130-400k page
        // faults per BERT-base batch, ~20% of int8's time); the pattern's one block per shape kept in the arena
        // raised peak RSS instead. Per-tensor arena chunks: fewer faults and lower peak RSS than either (RESULTS).
        const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { ...sessionOptions, enableMemPattern: false });
        // onnxruntime now holds the weights; ours are reread from the checkpoint if a later graph needs them
        model.weights.release();
        return new Engine(model, options, built.outputs, built.feeds, session, checkCache(built, options, model.source));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const built = FAMILIES[arch.family].build(arch, model.weights, options);
    const session = await ort.InferenceSession.create(built.bytes, sessionOptions);
    return new Engine(model, options, built.outputs, built.feeds, session, checkCache(built, options, model.source));
  }

  get hasDecoder(): boolean {
    return this.options.decoderLayers.length > 0;
  }

  async run(batch: Batch): Promise<Record<string, OutputTensor>> {
    const arch = this.model.arch;
    checkBatchShape(batch, 'inputs');
    checkIdsInVocab(batch, arch.vocab, arch.typeVocab, 'inputs');
    const ids = padRows(batch.inputIds, arch.padTokenId ?? 0);
    const [B, T] = ids.dims;
    const pastLength = this.cache ? pastLengthOf(batch.past, B, this.cache) : 0;
    if (batch.past && !this.cache) throw new ProbescaleError('this engine was built without a key/value cache: create it with { kvCache: true } to pass past');
    // with a cache the mask covers past + new positions (right padding in the new tokens only)
    const S = pastLength + T;
    const mask = batch.attentionMask ? padRows(batch.attentionMask, 0) : maskFromLengths(batch.inputIds.map((r) => ({ length: pastLength + r.length })), [B, S]);
    if (mask.dims[1] !== S) throw new ProbescaleError(`attention_mask has ${mask.dims[1]} positions, expected ${S} (${pastLength} cached + ${T} new)`);
    const feeds: Record<string, ort.Tensor> = {};
    const limit = maxSequenceTokens(arch);
    if (S > limit) throw new ProbescaleError(`a sequence of ${T} tokens is longer than this model's ${limit} positions`, { file: this.model.source, fix: `truncate inputs to ${limit} tokens` });
    for (const name of this.feeds) {
      switch (name) {
        case 'input_ids':
          feeds[name] = new ort.Tensor('int64', ids.data, ids.dims);
          break;
        case 'attention_mask':
          feeds[name] = new ort.Tensor('int64', mask.data, mask.dims);
          break;
        case 'token_type_ids':
          feeds[name] = batch.tokenTypeIds ? tensorI64(padRows(batch.tokenTypeIds, 0)) : new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
          break;
        case 'position_ids': {
          // the rule over all S positions (only sequential rules have a cache), keeping the new tokens' columns
          const all = FAMILIES[arch.family].positionIds(this.cache ? new BigInt64Array(B * S) : ids.data, mask.data, B, S, arch);
          const pos = new BigInt64Array(B * T);
          for (let b = 0; b < B; b++) pos.set(all.subarray(b * S + pastLength, (b + 1) * S), b * T);
          feeds[name] = new ort.Tensor('int64', pos, [B, T]);
          break;
        }
        case 'position_buckets':
          feeds[name] = new ort.Tensor('int64', bucketMatrix(T, T, true, (arch.t5 ?? arch.positionBuckets!).buckets, (arch.t5 ?? arch.positionBuckets!).maxDistance), [T, T]);
          break;
        case 'relative_positions':
          feeds[name] = new ort.Tensor('int64', debertaRelativePositions(T, arch.deberta!.buckets, arch.deberta!.maxRelative), [T, T]);
          break;
        case 'decoder_input_ids':
        case 'decoder_attention_mask':
        case 'decoder_position_buckets': {
          if (!batch.decoderInputIds) throw new ProbescaleError('this T5 model has a decoder: the batch needs decoder_input_ids', { fix: 'add decoder_input_ids (start with decoder_start_token_id = pad = 0)' });
          const dids = padRows(batch.decoderInputIds, arch.padTokenId ?? 0);
          const Td = dids.dims[1];
          if (name === 'decoder_input_ids') feeds[name] = tensorI64(dids);
          else if (name === 'decoder_attention_mask') feeds[name] = tensorI64(batch.decoderAttentionMask ? padRows(batch.decoderAttentionMask, 0) : maskFromLengths(batch.decoderInputIds, dids.dims));
          else feeds[name] = new ort.Tensor('int64', bucketMatrix(Td, Td, false, arch.t5!.buckets, arch.t5!.maxDistance), [Td, Td]);
          break;
        }
      }
    }
    if (this.cache) {
      for (let j = 0; j < this.cache.layers; j++) {
        for (const kind of ['key', 'value']) {
          const p = batch.past?.[`present.${j}.${kind}`];
          feeds[`past_key_values.${j}.${kind}`] = p ? new ort.Tensor('float32', p.data, p.dims) : new ort.Tensor('float32', new Float32Array(0), [B, this.cache.kvHeads, 0, this.cache.headDim]);
        }
      }
    }
    const results = await this.session.run(feeds);
    const out: Record<string, OutputTensor> = {};
    for (const name of this.outputNames) {
      const t = results[name];
      out[name] = { data: t.data as Float32Array, dims: t.dims as number[] };
    }
    if (this.options.hiddenStates === 'all') aliasLayerOutputs(out);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** layer_outputs.j = hidden_states.j+1 wherever publishStack published the value once (no copy). */
function aliasLayerOutputs(out: Record<string, OutputTensor>): void {
  for (const prefix of ['', 'encoder_', 'decoder_']) {
    for (let j = 0; out[`${prefix}hidden_states.${j + 1}`]; j++) out[`${prefix}layer_outputs.${j}`] ??= out[`${prefix}hidden_states.${j + 1}`];
  }
}

function checkCache(built: BuiltGraph, options: GraphOptions, source: string): BuiltGraph['cache'] {
  if (options.kvCache && !built.cache) throw new ProbescaleError('the graph builder ignored the key/value-cache request', { file: source });
  return built.cache;
}

/** Cached positions in `past` (0 when none), checking every layer's tensors agree. */
function pastLengthOf(past: KvCache | undefined, B: number, cache: NonNullable<BuiltGraph['cache']>): number {
  if (!past) return 0;
  let len = -1;
  for (let j = 0; j < cache.layers; j++) {
    for (const kind of ['key', 'value']) {
      const t = past[`present.${j}.${kind}`];
      const want = [B, cache.kvHeads, len < 0 ? (t?.dims[2] ?? -1) : len, cache.headDim];
      if (!t || t.dims.length !== 4 || t.dims.some((d, i) => d !== want[i])) throw new ProbescaleError(`past present.${j}.${kind} has shape [${t?.dims ?? 'missing'}], expected [${want}]`, { fix: "pass the previous run's outputs as past" });
      len = t.dims[2];
    }
  }
  return len;
}

/** Bridges written by compress/heal into a checkpoint: config.probescale.bridges lists their positions. */
function storedBridges(model: LoadedModel): GraphOptions['bridges'] {
  const positions = (model.arch.raw.probescale as { bridges?: number[] } | undefined)?.bridges;
  if (!positions?.length) return undefined;
  const C = model.arch.hidden;
  return Object.fromEntries(
    positions.map((j) => [j, { weight: model.weights.get(`probescale.bridge.${j}.weight`, [C, C]).data, bias: model.weights.get(`probescale.bridge.${j}.bias`, [C]).data }]),
  );
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function validateLayers(layers: number[], n: number, what: string, source: string): number[] {
  layers.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= n) {
      throw new ProbescaleError(`${what} index ${l} is out of range: the model has ${n} (0..${n - 1})`, { file: source, fix: `choose ${what} between 0 and ${n - 1}` });
    }
    if (i > 0 && l <= layers[i - 1]) {
      throw new ProbescaleError(`${what} must be strictly increasing (kept layers keep their order), got [${layers}]`, { file: source });
    }
  });
  return layers;
}

interface I64 {
  data: BigInt64Array;
  dims: [number, number];
}

function tensorI64(t: I64): ort.Tensor {
  return new ort.Tensor('int64', t.data, t.dims);
}

function padRows(rows: number[][], pad: number): I64 {
  if (rows.length === 0) throw new ProbescaleError('empty batch: no sequences to run');
  const T = Math.max(...rows.map((r) => r.length));
  if (T === 0) throw new ProbescaleError('empty batch: every sequence has length 0');
  const data = new BigInt64Array(rows.length * T).fill(BigInt(pad));
  rows.forEach((r, b) => r.forEach((v, t) => (data[b * T + t] = BigInt(v))));
  return { data, dims: [rows.length, T] };
}

function maskFromLengths(rows: { length: number }[], dims: [number, number]): I64 {
  const data = new BigInt64Array(dims[0] * dims[1]);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.length; t++) data[b * dims[1] + t] = 1n;
  });
  return { data, dims };
}
