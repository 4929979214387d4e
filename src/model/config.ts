/**
 * Hugging Face config.json -> one normalized architecture description: its types. Each family's spec parses
 * it (engine/families/<family>.ts); engine/load.ts picks the spec by model_type.
 * Field names and defaults follow the transformers config classes (absent fields take the class default,
 * as `save_pretrained` writes only non-default values).
 */

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

/** model_type of a healed checkpoint (compress/heal.ts): Hugging Face has no class for its bridges, so it refuses the folder. */
export const HEALED_MODEL_TYPE = 'probescale-healed';
