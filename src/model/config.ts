/**
 * Hugging Face config.json -> one normalized architecture description per family.
 * Field names and defaults follow the transformers config classes (absent fields take the class default,
 * as `save_pretrained` writes only non-default values).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { checkArch } from './validate.js';

export type Family = 'bert' | 'roberta' | 'gpt2' | 'llama' | 't5';
export const SUPPORTED_MODEL_TYPES: Record<string, Family> = {
  bert: 'bert',
  roberta: 'roberta',
  gpt2: 'gpt2',
  llama: 'llama',
  t5: 't5',
};

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
  ropeTheta?: number;
  t5?: { decoderLayers: number; gated: boolean; buckets: number; maxDistance: number; encoderOnly: boolean };
  /** The config.json as read. */
  raw: Record<string, unknown>;
}

type Raw = Record<string, unknown>;

/** Longest token sequence the position table allows (RoBERTa's positions start at padding_idx + 1). */
export function maxSequenceTokens(arch: ArchConfig): number {
  return arch.family === 'roberta' ? arch.maxPositions - ((arch.padTokenId ?? 1) + 1) : arch.maxPositions;
}

function num(raw: Raw, key: string, dflt?: number, path = 'config.json'): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ProbescaleError(`missing required field "${key}"`, { file: path, fix: `add "${key}" to config.json` });
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProbescaleError(`field "${key}" must be a number, got ${JSON.stringify(v)}`, { file: path });
  return v;
}

function optNum(raw: Raw, key: string): number | undefined {
  const v = raw[key];
  return typeof v === 'number' ? v : undefined;
}

function act(raw: Raw, key: string, dflt: string, path: string): Activation {
  const a = (raw[key] as string | undefined) ?? dflt;
  const map: Record<string, Activation> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu', silu: 'silu', swish: 'silu' };
  const out = map[a];
  if (!out) throw new ProbescaleError(`activation "${a}" (${key}) is not supported; supported: ${Object.keys(map).join(', ')}`, { file: path });
  return out;
}

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
  const base = { raw, padTokenId: optNum(raw, 'pad_token_id'), bosTokenId: optNum(raw, 'bos_token_id'), eosTokenId: optNum(raw, 'eos_token_id') };
  switch (family) {
    case 'bert':
    case 'roberta': {
      const hidden = num(raw, 'hidden_size', 768, path);
      const heads = num(raw, 'num_attention_heads', 12, path);
      if (raw.position_embedding_type && raw.position_embedding_type !== 'absolute') {
        throw new ProbescaleError(`position_embedding_type "${raw.position_embedding_type}" is not supported (only "absolute")`, { file: path });
      }
      return {
        ...base, family, hidden, heads, kvHeads: heads, headDim: hidden / heads,
        layers: num(raw, 'num_hidden_layers', 12, path),
        intermediate: num(raw, 'intermediate_size', 3072, path),
        vocab: num(raw, 'vocab_size', family === 'bert' ? 30522 : 50265, path),
        maxPositions: num(raw, 'max_position_embeddings', 512, path),
        eps: num(raw, 'layer_norm_eps', 1e-12, path),
        activation: act(raw, 'hidden_act', 'gelu', path),
        typeVocab: num(raw, 'type_vocab_size', 2, path),
        padTokenId: optNum(raw, 'pad_token_id') ?? (family === 'bert' ? 0 : 1),
        causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
      };
    }
    case 'gpt2': {
      const hidden = num(raw, 'n_embd', 768, path);
      const heads = num(raw, 'n_head', 12, path);
      if (raw.scale_attn_by_inverse_layer_idx === true || raw.reorder_and_upcast_attn === true) {
        throw new ProbescaleError('GPT-2 options scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported', { file: path });
      }
      return {
        ...base, family, hidden, heads, kvHeads: heads, headDim: hidden / heads,
        layers: num(raw, 'n_layer', 12, path),
        intermediate: optNum(raw, 'n_inner') ?? 4 * hidden,
        vocab: num(raw, 'vocab_size', 50257, path),
        maxPositions: num(raw, 'n_positions', 1024, path),
        eps: num(raw, 'layer_norm_epsilon', 1e-5, path),
        activation: act(raw, 'activation_function', 'gelu_new', path),
        causal: true, tieEmbeddings: raw.tie_word_embeddings !== false,
      };
    }
    case 'llama': {
      const hidden = num(raw, 'hidden_size', 4096, path);
      const heads = num(raw, 'num_attention_heads', 32, path);
      if (raw.rope_scaling) throw new ProbescaleError('rope_scaling is not supported yet', { file: path, fix: 'remove rope_scaling or use a model without it' });
      if (raw.attention_bias === true || raw.mlp_bias === true) throw new ProbescaleError('Llama with attention_bias/mlp_bias is not supported', { file: path });
      return {
        ...base, family, hidden, heads,
        kvHeads: num(raw, 'num_key_value_heads', heads, path),
        headDim: optNum(raw, 'head_dim') ?? hidden / heads,
        layers: num(raw, 'num_hidden_layers', 32, path),
        intermediate: num(raw, 'intermediate_size', 11008, path),
        vocab: num(raw, 'vocab_size', 32000, path),
        maxPositions: num(raw, 'max_position_embeddings', 2048, path),
        eps: num(raw, 'rms_norm_eps', 1e-6, path),
        activation: act(raw, 'hidden_act', 'silu', path),
        ropeTheta: num(raw, 'rope_theta', 10000, path),
        causal: true, tieEmbeddings: raw.tie_word_embeddings === true,
      };
    }
    case 't5': {
      const ffProj = (raw.feed_forward_proj as string | undefined) ?? 'relu';
      const gated = ffProj.startsWith('gated-');
      const actName = gated ? ffProj.slice('gated-'.length) : ffProj;
      const heads = num(raw, 'num_heads', 8, path);
      const layers = num(raw, 'num_layers', 6, path);
      const archs = (raw.architectures as string[] | undefined) ?? [];
      return {
        ...base, family, heads, kvHeads: heads,
        hidden: num(raw, 'd_model', 512, path),
        headDim: num(raw, 'd_kv', 64, path),
        layers,
        intermediate: num(raw, 'd_ff', 2048, path),
        vocab: num(raw, 'vocab_size', 32128, path),
        maxPositions: Number.POSITIVE_INFINITY,
        eps: num(raw, 'layer_norm_epsilon', 1e-6, path),
        // as in T5Config: 'gated-gelu' means the tanh approximation (gelu_new); plain 'gelu' is exact
        activation: act({ a: ffProj === 'gated-gelu' ? 'gelu_new' : actName }, 'a', 'relu', path),
        causal: false, tieEmbeddings: raw.tie_word_embeddings !== false,
        padTokenId: optNum(raw, 'pad_token_id') ?? 0,
        t5: {
          decoderLayers: optNum(raw, 'num_decoder_layers') ?? layers,
          gated,
          buckets: num(raw, 'relative_attention_num_buckets', 32, path),
          maxDistance: num(raw, 'relative_attention_max_distance', 128, path),
          encoderOnly: archs.length > 0 && archs.every((a) => a === 'T5EncoderModel'),
        },
      };
    }
  }
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
