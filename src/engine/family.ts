/** What every model family's graph builder receives and returns. */
import type { ArchConfig } from '../model/config.js';
import type { WeightStore } from '../model/weights.js';
import { GraphBuilder, FLOAT } from './graph.js';

export interface GraphOptions {
  /** Original indices of the (encoder) layers to run, in order; a model without layers 3 and 7 simply omits them. */
  layers: number[];
  /** T5 encoder-decoder: decoder layers to run. */
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
  | 'decoder_input_ids'
  | 'decoder_attention_mask'
  | 'decoder_position_buckets';

export interface BuiltGraph {
  bytes: Uint8Array;
  feeds: FeedName[];
  outputs: string[];
}

/** `external`: stream weights to this external-data file (see GraphBuilder.useExternalData). */
export type FamilyBuilder = (arch: ArchConfig, w: WeightStore, opts: GraphOptions, external?: string) => BuiltGraph;

/**
 * Publish a stack's states under the golden-file names (Hugging Face `output_hidden_states` semantics):
 * hidden_states.0 = embedding output, hidden_states.j = output of kept layer j-1, and for pre-norm stacks the
 * last hidden_states entry is taken after the final norm; layer_outputs.j is the raw output of kept layer j.
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
  const out = (name: string, value: string) => {
    g.output(name, value, FLOAT);
    names.push(name);
  };
  if (mode === 'all') {
    out(`${prefix}hidden_states.0`, embedded);
    layerOutputs.forEach((o, j) => {
      out(`${prefix}layer_outputs.${j}`, o);
      out(`${prefix}hidden_states.${j + 1}`, j === layerOutputs.length - 1 ? final : o);
    });
  }
  out(lastName, final);
  return names;
}
