/**
 * Hugging Face config.json -> one normalized architecture description; the family's spec parses it.
 * Field names and defaults follow the transformers config classes (absent fields take the class default,
 * as `save_pretrained` writes only non-default values).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { checkArch } from './validate.js';
// The family registry: each family's config parsing lives in its spec (engine/families/<family>.ts).
import { FAMILIES } from '../engine/families/index.js';

/** Every family probescale loads; each has one spec in src/engine/families/<family>.ts (FAMILIES). */
export type Family = 'bert' | 'roberta' | 'gpt2' | 'llama' | 't5' | 'qwen2' | 'mistral' | 'gemma' | 'gemma2' | 'phi3' | 'gpt-neox' | 'opt' | 'distilbert' | 'electra' | 'phi' | 'mpnet' | 'albert' | 'deberta-v2';

export type Activation = 'gelu' | 'gelu_new' | 'relu' | 'silu';

export interface ArchConfig {
  family: Family;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  eps: number;
  activation: Activation;
  /** Decoder-only causal LM (GPT-2, Llama). */
  causal: boolean;
  tieEmbeddings: boolean;
  padTokenId?: number;
  bosTokenId?: number;
  eosTokenId?: number;
  typeVocab?: number;
  /** Relative position buckets shared by all layers (MPNet; T5 keeps its own in t5), bidirectional. */
  positionBuckets?: { buckets: number; maxDistance: number };
  /** DeBERTa-v2/v3 disentangled attention: log buckets, span of the relative table, which terms. */
  deberta?: { buckets: number; maxRelative: number; span: number; c2p: boolean; p2c: boolean; shareAttKey: boolean; positionBiasedInput: boolean };
  /** Width of the embedding tables when it differs from hidden (ELECTRA, ALBERT embedding_size). */
  embeddingSize?: number;
  ropeTheta?: number;
  /** Rotary dims per head when only part of each head rotates (GPT-NeoX rotary_pct, Phi partial_rotary_factor). */
  rotaryDim?: number;
  /** Llama 3.x rope_scaling (rope_type "llama3"). */
  ropeScaling?: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };
  /** GPT-NeoX: parallel residual (x + attn + mlp) and biases on attention. */
  gptNeox?: { parallelResidual: boolean; attentionBias: boolean };
  /** OPT: pre- or post-LN blocks, final norm present, word_embed_proj_dim projections. */
  opt?: { preNorm: boolean; finalNorm: boolean; embedDim: number; bias: boolean };
  /** What a Llama-shaped decoder (Qwen2, Mistral, Gemma, Gemma 2, Phi-3) does differently; see families/llama.ts. */
  llama?: LlamaVariant;
  t5?: { decoderLayers: number; gated: boolean; buckets: number; maxDistance: number; encoderOnly: boolean };
  /** The config.json as read. */
  raw: Record<string, unknown>;
}

type Raw = Record<string, unknown>;

export interface LlamaVariant {
  /** Biases on q/k/v (Qwen2, Llama attention_bias), on o (Llama attention_bias), on the MLP (Llama mlp_bias). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Phi-3: one qkv_proj [(H + 2 KV) D, C] and one gate_up_proj [2 F, C]. */
  fused: boolean;
  /** Gemma: RMSNorm multiplies by (1 + weight); embeddings scaled by sqrt(hidden_size). */
  gemmaNorm: boolean;
  embedScale: number;
  /** Sliding-window attention (Mistral, Gemma 2): a query sees its last `window` keys; sliding[l] for layer l. */
  slidingWindow?: { window: number; sliding: boolean[] };
  /** Gemma 2: norms after attention and around the MLP, logit soft-capping, query scale. */
  gemma2?: { attnSoftcap?: number; finalSoftcap?: number; queryScale: number };
}

/** Longest token sequence the position table allows (RoBERTa's positions start at padding_idx + 1). */
export function maxSequenceTokens(arch: ArchConfig): number {
  return FAMILIES[arch.family].maxSequenceTokens(arch);
}

/** model_type -> family, from every spec's modelTypes. */
export const SUPPORTED_MODEL_TYPES: Record<string, Family> = Object.fromEntries(
  (Object.keys(FAMILIES) as Family[]).flatMap((f) => FAMILIES[f].modelTypes.map((t) => [t, f])),
);

export function parseConfig(raw: Raw, path = 'config.json'): ArchConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ProbescaleError(`config.json must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`, { file: path, fix: 'use the config.json saved with the model' });
  const arch = parseFamilyConfig(raw, path);
  checkArch(arch, path); // validate/checkArch: sizes, heads, eps
  return arch;
}

function parseFamilyConfig(raw: Raw, path: string): ArchConfig {
  const modelType = raw.model_type;
  const family = typeof modelType === 'string' ? SUPPORTED_MODEL_TYPES[modelType] : undefined;
  if (!family) {
    throw new ProbescaleError(
      `unknown model_type ${JSON.stringify(modelType)}; probescale supports: ${Object.keys(SUPPORTED_MODEL_TYPES).join(', ')}`,
      { file: path, fix: 'use a checkpoint of a supported family, or convert it (llama2.c .bin: `probescale convert`)' },
    );
  }
  return FAMILIES[family].parseConfig(raw, path);
}

export function readConfig(dir: string): ArchConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new ProbescaleError('config.json not found', { file: path, fix: 'point --model at a Hugging Face model directory (config.json + *.safetensors), or convert a llama2.c checkpoint with `probescale convert`' });
  }
  let raw: Raw;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Raw;
  } catch (err) {
    throw new ProbescaleError(`config.json is not valid JSON (${(err as Error).message})`, { file: path });
  }
  return parseConfig(raw, path);
}
