/**
 * Architecture shapes at a parameter budget, and their measured inference throughput on onnxruntime.
 * The three knobs of the conditional law: hidden size, MLP-to-attention parameter ratio, and grouped-query
 * attention (query heads per key/value head). Depth is solved from the budget. Weights are random (speed
 * does not depend on their values), built in memory as a Hugging Face Llama checkpoint.
 */
import { parseConfig } from '../engine/load.js';
import { WeightStore, type Tensor } from '../model/weights.js';
import type { LoadedModel } from '../model/checkpoint.js';
import { Engine } from '../engine/engine.js';
import { medianRunMs } from '../engine/timing.js';
import { mulberry32 } from '../util/random.js';
import { ProbescaleError } from '../util/errors.js';
import { startProgress } from '../util/progress.js';

export interface Shape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
}

const HEAD_DIM = 64;

/** Parameters of a Llama with tied embeddings. */
export function llamaParameters(s: Shape): number {
  const D = s.hidden / s.heads;
  const attn = s.hidden * s.heads * D * 2 + 2 * s.hidden * s.kvHeads * D;
  const mlp = 3 * s.hidden * s.intermediate;
  return s.vocab * s.hidden + s.layers * (attn + mlp + 2 * s.hidden) + s.hidden;
}

/** MLP-to-attention parameter ratio of one layer. */
export function mlpAttentionRatio(s: Shape): number {
  const D = s.hidden / s.heads;
  return (3 * s.hidden * s.intermediate) / (s.hidden * s.heads * D * 2 + 2 * s.hidden * s.kvHeads * D);
}

/** The shape with the given knobs whose depth brings it closest to `budget` parameters. */
export function shapeAt(budget: number, hidden: number, ratio: number, groups: number, vocab: number): Shape | undefined {
  const heads = Math.max(1, Math.round(hidden / HEAD_DIM));
  if (heads % groups !== 0) return undefined;
  const kvHeads = heads / groups;
  const D = hidden / heads;
  const attn = hidden * heads * D * 2 + 2 * hidden * kvHeads * D;
  const intermediate = Math.max(8, Math.round((ratio * attn) / (3 * hidden) / 8) * 8);
  const perLayer = attn + 3 * hidden * intermediate + 2 * hidden;
  const layers = Math.round((budget - vocab * hidden - hidden) / perLayer);
  if (layers < 1) return undefined;
  return { hidden, layers, heads, kvHeads, intermediate, vocab };
}

export function randomLlama(s: Shape, seed = 1): LoadedModel {
  const rand = mulberry32(seed);
  const mat = (rows: number, cols: number): Tensor => ({ data: Float32Array.from({ length: rows * cols }, () => (rand() - 0.5) * 0.04), shape: [rows, cols] });
  const ones = (n: number): Tensor => ({ data: new Float32Array(n).fill(1), shape: [n] });
  const D = s.hidden / s.heads;
  const t: Record<string, Tensor> = { 'model.embed_tokens.weight': mat(s.vocab, s.hidden), 'model.norm.weight': ones(s.hidden) };
  for (let l = 0; l < s.layers; l++) {
    const L = `model.layers.${l}`;
    Object.assign(t, {
      [`${L}.input_layernorm.weight`]: ones(s.hidden),
      [`${L}.post_attention_layernorm.weight`]: ones(s.hidden),
      [`${L}.self_attn.q_proj.weight`]: mat(s.heads * D, s.hidden),
      [`${L}.self_attn.k_proj.weight`]: mat(s.kvHeads * D, s.hidden),
      [`${L}.self_attn.v_proj.weight`]: mat(s.kvHeads * D, s.hidden),
      [`${L}.self_attn.o_proj.weight`]: mat(s.hidden, s.heads * D),
      [`${L}.mlp.gate_proj.weight`]: mat(s.intermediate, s.hidden),
      [`${L}.mlp.up_proj.weight`]: mat(s.intermediate, s.hidden),
      [`${L}.mlp.down_proj.weight`]: mat(s.hidden, s.intermediate),
    });
  }
  const config = { model_type: 'llama', hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, intermediate_size: s.intermediate, vocab_size: s.vocab, max_position_embeddings: 2048, tie_word_embeddings: true };
  const arch = parseConfig(config, '<generated>');
  const weights = WeightStore.fromTensors(t, '<generated>');
  return { source: '<generated>', arch, weights, tokenizer: () => { throw new ProbescaleError('generated model has no tokenizer'); }, contentHash: () => `gen-${JSON.stringify(s)}` };
}

export interface Throughput {
  shape: Shape;
  parameters: number;
  ratio: number;
  groups: number;
  /** prefill tokens/s at batch 32 x seq */
  tokensPerS: number;
  /** ms for one sequence of seq tokens */
  latencyMs: number;
}

export async function measureThroughput(s: Shape, seq = 128, threads?: number, repeats = 3): Promise<Throughput> {
  const model = randomLlama(s);
  const engine = await Engine.create(model, { hiddenStates: 'last', logits: true, threads });
  const row = Array.from({ length: seq }, (_, t) => 3 + ((t * 7919) % (s.vocab - 3)));
  const time = (batch: number) => medianRunMs(engine, { inputIds: Array.from({ length: batch }, () => row) }, repeats);
  const b32 = await time(32);
  const b1 = await time(1);
  await engine.release();
  return { shape: s, parameters: llamaParameters(s), ratio: mlpAttentionRatio(s), groups: s.heads / s.kvHeads, tokensPerS: (32 * seq) / (b32 / 1000), latencyMs: b1 };
}

export interface ArchStudyOptions {
  /** parameter budget every shape is sized to */
  params: number;
  vocab: number;
  /** sequence length of the measured prefill */
  seq: number;
  threads?: number;
  /** progress on stderr (runs done / to do, time left); default true, off with setProgressMode('off') */
  progress?: boolean;
}

export type ArchRow = Throughput & { name: string };

export interface ArchStudy {
  options: ArchStudyOptions;
  /** the standard shape first (Llama-style: hidden 512, MLP/attention ratio 2, no GQA) when it fits the budget */
  rows: ArchRow[];
  /** knob combinations left out: no depth fits the budget, or the heads do not divide into the groups */
  skipped: string[];
}

/** The shapes `study arch` measures: the standard one, then hidden {256, 512, 768} x ratio {1, 2, 4} x groups {1, 4}. */
export function archShapes(params: number, vocab: number): { shapes: { name: string; shape: Shape }[]; skipped: string[] } {
  const shapes: { name: string; shape: Shape }[] = [];
  const skipped: string[] = [];
  const standard = shapeAt(params, 512, 2, 1, vocab);
  if (standard) shapes.push({ name: 'standard', shape: standard });
  else skipped.push('standard');
  for (const hidden of [256, 512, 768]) {
    for (const ratio of [1, 2, 4]) {
      for (const groups of [1, 4]) {
        if (hidden === 512 && ratio === 2 && groups === 1) continue;
        const name = `h${hidden} r${ratio} g${groups}`;
        const s = shapeAt(params, hidden, ratio, groups, vocab);
        if (s) shapes.push({ name, shape: s });
        else skipped.push(name);
      }
    }
  }
  return { shapes, skipped };
}

/** Measure every shape of archShapes (random weights, onnxruntime prefill at batch 32 and batch 1). */
export async function runArchStudy(opts: ArchStudyOptions): Promise<ArchStudy> {
  const { shapes, skipped } = archShapes(opts.params, opts.vocab);
  if (!shapes.length) throw new ProbescaleError(`no shape fits ${opts.params} parameters with a ${opts.vocab}-token vocabulary (the embeddings alone take more)`, { fix: 'raise --params or lower --vocab' });
  const progress = startProgress('arch study', shapes.length, { unit: 'shapes', enabled: opts.progress !== false });
  const rows: ArchRow[] = [];
  for (const { name, shape } of shapes) {
    rows.push({ name, ...(await measureThroughput(shape, opts.seq, opts.threads)) });
    progress.increment();
  }
  progress.stop();
  return { options: opts, rows, skipped };
}
