/**
 * The start and the tail every causal decoder graph shares (GPT-2, OPT, GPT-NeoX, Phi and the Llama-shaped
 * families), so a family file holds only its embeddings and its layer math: inputs (input_ids, attention_mask
 * over past + new tokens with a key/value cache, position_ids unless the family computes them), the causal
 * bias; then the bridge before the final norm, the published states, the LM head's logits, the cache outputs.
 */
import type { ArchConfig } from '../model/config.js';
import { FLOAT, GraphBuilder, INT64 } from './graph.js';
import { cachedCausalBias, causalPaddingBias, transposeWeight } from './ops.js';
import { bridge, publishStack, type BuiltGraph, type FeedName, type GraphOptions } from './family.js';

/** hidden C, heads H, key/value heads KV, head width D, MLP width F; grouped-query attention needs H % KV = 0. */
export function decoderDims(arch: ArchConfig): { C: number; H: number; KV: number; D: number; F: number } {
  const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: F } = arch;
  if (H % KV !== 0) throw new Error(`num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
  return { C, H, KV, D, F };
}

export interface DecoderStart {
  g: GraphBuilder;
  ids: string;
  mask: string;
  /** position_ids: the graph input, or what the family computed from ids and mask */
  pos: string;
  /** built with a key/value cache (GraphOptions.kvCache) */
  cache: boolean;
  feeds: FeedName[];
  /** padding + causal bias [B, 1, T, S], with `window` sliding (query i sees keys i - window < j <= i) */
  causalBias(window?: number): string;
}

/**
 * A decoder graph's inputs. `positions`, when given, computes the position ids in the graph from ids and the
 * whole mask (OPT with a cache), and position_ids is then not an input.
 */
export function startDecoder(name: string, opts: GraphOptions, external: string | undefined, positions?: (g: GraphBuilder, ids: string, mask: string) => string): DecoderStart {
  const g = new GraphBuilder(name, external, opts.precision);
  const cache = opts.kvCache === true;
  const ids = g.input('input_ids', INT64, ['batch', 'seq']);
  const mask = g.input('attention_mask', INT64, ['batch', cache ? 'total_seq' : 'seq']);
  const pos = positions ? positions(g, ids, mask) : g.input('position_ids', INT64, ['batch', 'seq']);
  const feeds: FeedName[] = positions ? ['input_ids', 'attention_mask'] : ['input_ids', 'attention_mask', 'position_ids'];
  const causalBias = (window?: number) => (cache ? cachedCausalBias(g, mask, ids, window) : causalPaddingBias(g, mask, window));
  return { g, ids, mask, pos, cache, feeds, causalBias };
}

export interface DecoderTail {
  /** the residual stream after the last kept layer */
  x: string;
  embedded: string;
  layerOutputs: string[];
  /** final norm (and OPT's project_out) applied to the stream after the last bridge */
  finalNorm: (x: string) => string;
  /** the LM head as stored, [vocab, width] (nn.Linear weight or tied embedding); read only when logits are asked for */
  head: () => Float32Array;
  /** the head's input width (OPT's word_embed_proj_dim), default hidden_size */
  width?: number;
  /** what follows the head's MatMul (Phi's lm_head bias, Gemma 2's soft-capping) */
  afterHead?: (logits: string) => string;
  /** key/value cache layout: heads the cache stores and their width */
  kvHeads: number;
  headDim: number;
}

/** The bridge before the final norm, the published states, logits, the cache outputs, and the built graph. */
export function finishDecoder(d: DecoderStart, arch: ArchConfig, opts: GraphOptions, t: DecoderTail): BuiltGraph {
  const { g } = d;
  const final = t.finalNorm(bridge(g, t.x, opts, opts.layers.length, arch.hidden));
  const outputs = publishStack(g, '', t.embedded, t.layerOutputs, final, opts.hiddenStates);
  if (opts.logits) {
    const E = t.width ?? arch.hidden;
    let logits = g.op('MatMul', [final, g.weight('lm_head.T', transposeWeight(t.head(), arch.vocab, E), [E, arch.vocab])]);
    if (t.afterHead) logits = t.afterHead(logits);
    g.output('logits', logits, FLOAT, ['batch_size', 'sequence_length', 'vocab_size']);
    outputs.push('logits');
  }
  // the present.{j}.key/value outputs were published by withCache inside the layers
  if (d.cache) outputs.push(...opts.layers.flatMap((_, j) => [`present.${j}.key`, `present.${j}.value`]));
  return { bytes: g.toBytes(), feeds: d.feeds, outputs, cache: d.cache ? { layers: opts.layers.length, kvHeads: t.kvHeads, headDim: t.headDim } : undefined };
}
