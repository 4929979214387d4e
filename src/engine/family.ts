/** What every model family's graph builder receives and returns. */
import type { ArchConfig } from '../model/config.js';
import type { WeightStore } from '../model/weights.js';
import { GraphBuilder, FLOAT, type Precision } from './graph.js';

export interface GraphOptions {
  /** Original indices of the (encoder) layers to run, in order; a model without layers 3 and 7 simply omits them. */
  layers: number[];
  /** T5 encoder-decoder: decoder layers to run; none = the encoder alone. */
  decoderLayers: number[];
  /** Publish every hidden state ("all") or only the last one ("last"). */
  hiddenStates: 'all' | 'last';
  /** Add the LM head's logits when the checkpoint has one. */
  logits: boolean;
  /**
   * Healing bridges: bridges[j] = x W + b applied to the input of kept layer j (j = layers.length: before
   * the final norm). Each stands in for a run of removed layers (compress/heal.ts). W is [C, C] (in, out).
   */
  bridges?: Record<number, { weight: Float32Array; bias: Float32Array }>;
  /**
   * Causal LMs: take past_key_values.{j}.key/value and return present.{j}.key/value (j = kept-layer
   * position), with attention_mask covering past + new tokens. A builder that cannot leaves BuiltGraph.cache
   * unset and the engine refuses.
   */
  kvCache?: boolean;
  /**
   * Compute position ids inside the graph instead of taking a position_ids input (exported encoders: the
   * runtimes that load them feed only input_ids / attention_mask / token_type_ids). 'padding-offset' is
   * RoBERTa's rule: count of non-pad tokens so far + pad id, pad itself at pad id.
   */
  positionsInGraph?: 'sequential' | 'padding-offset';
  /** Weight precision of the linear layers (GraphBuilder.precision); default fp32. */
  precision?: Precision;
}

/** Apply the bridge that stands before kept layer j, if any. */
export function bridge(g: GraphBuilder, x: string, opts: GraphOptions, j: number, C: number): string {
  const b = opts.bridges?.[j];
  if (!b) return x;
  return g.op('Add', [g.op('MatMul', [x, g.weight(`probescale.bridge.${j}.weight`, b.weight, [C, C])]), g.weight(`probescale.bridge.${j}.bias`, b.bias, [C])]);
}

export type FeedName =
  | 'input_ids'
  | 'attention_mask'
  | 'position_ids'
  | 'token_type_ids'
  | 'position_buckets'
  | 'relative_positions'
  | 'decoder_input_ids'
  | 'decoder_attention_mask'
  | 'decoder_position_buckets';

export interface BuiltGraph {
  bytes: Uint8Array;
  feeds: FeedName[];
  outputs: string[];
  /** Set when the graph was built with a key/value cache (GraphOptions.kvCache). */
  cache?: { layers: number; kvHeads: number; headDim: number };
}

/** `external`: stream weights to this external-data file (see GraphBuilder.useExternalData). */
export type FamilyBuilder = (arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string) => BuiltGraph;

/**
 * Publish a stack's states under the golden-file names (Hugging Face `output_hidden_states` semantics):
 * hidden_states.0 = embedding output, hidden_states.j = output of kept layer j-1, and for pre-norm stacks the
 * last hidden_states entry is taken after the final norm; layer_outputs.j is the raw output of kept layer j.
 * layer_outputs.j is a graph output only where it differs from hidden_states.j+1 (the last layer of a pre-norm
 * stack); Engine.run returns the others as aliases of the same tensor.
 */
export function publishStack(
  g: GraphBuilder,
  prefix: string,
  embedded: string,
  layerOutputs: string[],
  final: string,
  mode: GraphOptions['hiddenStates'],
  lastName = `${prefix}last_hidden_state`,
): string[] {
  const names: string[] = [];
  const seq = prefix === 'decoder_' ? 'decoder_sequence_length' : 'sequence_length';
  const out = (name: string, value: string) => {
    g.output(name, value, FLOAT, ['batch_size', seq, 'hidden_size']);
    names.push(name);
  };
  if (mode === 'all') {
    out(`${prefix}hidden_states.0`, embedded);
    layerOutputs.forEach((o, j) => {
      const last = j === layerOutputs.length - 1;
      out(`${prefix}hidden_states.${j + 1}`, last ? final : o);
      // a value published under two names is copied twice; Engine.run aliases layer_outputs.j instead
      if (last && final !== o) out(`${prefix}layer_outputs.${j}`, o);
    });
  }
  out(lastName, final);
  return names;
}

/**
 * Everything probescale knows about one model family, in one place (src/engine/families/<family>.ts),
 * collected in FAMILIES (families/index.ts) as a Record<Family, FamilySpec> so the compiler asks for every
 * field when a family is added. Names are Hugging Face's canonical parameter names.
 */
export interface FamilySpec {
  /** For `probescale info --families`: the stack it is, what it does differently, its parity fixture. */
  about: { kind: 'encoder' | 'decoder' | 'encoder-decoder'; notes: string; fixture: string };
  /** config.json model_type values this family accepts. */
  modelTypes: readonly string[];
  /** config.json -> ArchConfig, absent fields taking the transformers config class's default. */
  parseConfig(raw: Record<string, unknown>, path: string): ArchConfig;
  /** Prefixes the base model may sit under (a task head adds one: "bert.", "model."...), tried in order. */
  prefixes: readonly string[];
  /** A tensor (after the prefix) every checkpoint of the family stores: it picks the prefix. */
  anchor: string;
  /**
   * Every tensor a checkpoint may store, as patterns over the name after the prefix (heads outside the base
   * model are matched without it). Loading rejects any stored tensor no pattern claims.
   */
  tensors: readonly RegExp[];
  /** Per-layer tensors: three groups, (name up to the index)(index)(rest). */
  layerPattern: RegExp;
  /** config.json key holding the number of (selectable) layers. */
  layerCountKey: string;
  /** Tensors under a layer's name that every kept subset still needs (T5's position bias in block 0). */
  sharedAcrossLayers(name: string): boolean;
  /**
   * Weights each layer applies to a token (for FLOPs): the parameters stored under it (storedPerLayer),
   * except where layers share weights (ALBERT applies one stored layer many times).
   */
  appliedParameters(spec: FamilySpec, arch: ArchConfig, w: WeightStore): number[];
  /** Tensors indexed by token id (after the prefix, or full names for heads), trimmed with the vocabulary. */
  vocabTensors: readonly string[];
  /** Position ids fed to the graph (when it asks for 'position_ids'). */
  positionIds: PositionRule;
  /** Longest token sequence the model's position table allows. */
  maxSequenceTokens(arch: ArchConfig): number;
  /** The ONNX graph. */
  build: FamilyBuilder;
  /** Whether build honours GraphOptions.kvCache (past_key_values in, present out): causal LMs whose positions are sequential. */
  kvCache: boolean;
  /** Tensors of a kept layer subset (renumbered 0..k-1) and the config.json to write with them. */
  writeSubset(spec: FamilySpec, arch: ArchConfig, w: WeightStore, layers: number[]): SubsetWrite;
}

export interface SubsetWrite {
  config: Record<string, unknown>;
  tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;
}

/** ids [B, T] (right-padded), mask [B, T] -> position ids [B, T]. */
export type PositionRule = (ids: BigInt64Array, mask: BigInt64Array, B: number, T: number, arch: ArchConfig) => BigInt64Array;

/** 0..T-1 on every row (right padding: pads get positions past the tokens, which nothing reads). */
export const sequentialPositions: PositionRule = (_ids, _mask, B, T) => {
  const out = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = BigInt(t);
  return out;
};

/** Parameters stored under each layer's name (shared-across-layers tensors excluded). */
export function storedPerLayer(spec: FamilySpec, arch: ArchConfig, w: WeightStore): number[] {
  const perLayer = new Array<number>(arch.layers).fill(0);
  for (const name of w.names()) {
    const l = spec.sharedAcrossLayers(name) ? -1 : specLayerOf(spec, name);
    if (l >= 0 && l < arch.layers) perLayer[l] += w.get(name).shape.reduce((a, b) => a * b, 1);
  }
  return perLayer;
}

/** The layer a tensor belongs to under this spec, or -1 (embeddings, norms, heads). */
export function specLayerOf(spec: FamilySpec, name: string): number {
  const m = spec.layerPattern.exec(name);
  return m ? Number(m[2]) : -1;
}

/** The same tensor name under a new layer index. */
export function specRenumber(spec: FamilySpec, name: string, index: number): string {
  const m = spec.layerPattern.exec(name);
  if (!m) throw new Error(`${name} is not a layer tensor`);
  return `${m[1]}${index}${m[3]}`;
}

/**
 * The usual way to write a kept subset: non-layer tensors as they are, kept layers renumbered in order,
 * the layer count updated; tensors shared across layers go with the new layer 0 when theirs was dropped.
 */
export function renumberedSubset(spec: FamilySpec, arch: ArchConfig, w: WeightStore, layers: number[]): SubsetWrite {
  const newIndex = new Map(layers.map((l, j) => [l, j]));
  const tensors: SubsetWrite['tensors'] = {};
  const orphans: [string, SubsetWrite['tensors'][string]][] = [];
  for (const name of w.names()) {
    const t = w.get(name);
    const l = specLayerOf(spec, name);
    const entry = { dtype: 'F32' as const, shape: t.shape, data: t.data };
    if (l < 0) tensors[name] = entry;
    else if (newIndex.has(l)) tensors[specRenumber(spec, name, newIndex.get(l)!)] = entry;
    else if (spec.sharedAcrossLayers(name)) orphans.push([specRenumber(spec, name, 0), entry]);
  }
  // a shared table whose layer was dropped moves to the new layer 0, unless a kept layer brought its own
  if (layers.length > 0) for (const [name, entry] of orphans) tensors[name] ??= entry;
  const config: Record<string, unknown> = { ...arch.raw, [spec.layerCountKey]: layers.length };
  delete config.converted_from;
  return { config, tensors };
}

/** The stored tensors no pattern of the spec claims (probescale's own healing bridges are always claimed). */
export function unclaimedTensors(spec: FamilySpec, names: string[]): string[] {
  return names.filter((name) => {
    if (/^probescale\.bridge\.\d+\.(weight|bias)$/.test(name)) return false;
    const rests = [name, ...spec.prefixes.filter((p) => p && name.startsWith(p)).map((p) => name.slice(p.length))];
    return !rests.some((r) => spec.tensors.some((re) => re.test(r)));
  });
}

/**
 * Spec fields of a family whose layers each store their own weights under their index (all but ALBERT, whose
 * layers apply one stored layer, and T5, whose block 0 holds the position bias every block reads).
 */
export const OWN_LAYER_WEIGHTS = {
  sharedAcrossLayers: () => false,
  writeSubset: renumberedSubset,
  appliedParameters: storedPerLayer,
} satisfies Partial<FamilySpec>;

/** Spec fields of a family whose tokens sit at positions 0..T-1 of max_position_embeddings. */
export const SEQUENTIAL_POSITIONS = {
  positionIds: sequentialPositions,
  maxSequenceTokens: (arch: ArchConfig) => arch.maxPositions,
} satisfies Partial<FamilySpec>;
