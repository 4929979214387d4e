/**
 * Benchmark models, made on the fly (never committed): a random-init BERT-base-shaped encoder
 * (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522), RoBERTa-base- and GPT-2-small-shaped models
 * with real tokenizers, and stories260K converted to HF layout.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import { convertLlama2c } from '../../src/model/llama2c.js';
import { EMBEDDED_MODEL } from '../../src/cli/paths.js';
import { mulberry32 } from '../../src/util/random.js';

/** Seeded normal samples (mulberry32 + Box-Muller): identical weights for every run and peer. */
function normals(n: number, std: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rand() + 1e-12));
    const th = 2 * Math.PI * rand();
    out[i] = r * Math.cos(th) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(th) * std;
  }
  return out;
}

/** Named tensors for a random-init checkpoint: matrices N(0, 0.02) with one seed each (counting up), constant vectors. */
function tensorMaker(firstSeed: number) {
  let seed = firstSeed;
  const t: Record<string, TensorToWrite> = {};
  const mat = (name: string, shape: number[]) => (t[name] = { dtype: 'F32', shape, data: normals(shape.reduce((a, b) => a * b), 0.02, seed++) });
  const vec = (name: string, n: number, value: number) => (t[name] = { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(value) });
  return { t, mat, vec };
}

export function makeBertBase(dir: string, layers = 12): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  const shape = { C: 768, F: 3072, V: 30522, positions: 512, types: 2, layers };
  writeSafetensors(join(dir, 'model.safetensors'), encoderTensors(shape, 1), { format: 'pt' });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ architectures: ['BertModel'], model_type: 'bert', hidden_size: shape.C, num_hidden_layers: layers, num_attention_heads: 12, intermediate_size: shape.F, vocab_size: shape.V, max_position_embeddings: shape.positions, type_vocab_size: shape.types, layer_norm_eps: 1e-12, hidden_act: 'gelu' }, null, 2),
  );
  return dir;
}

/**
 * A random-init RoBERTa-base-shaped encoder (12 layers, hidden 768, 12 heads, FFN 3072, 128 tokens) with
 * mini-roberta's 4,096-token BPE, so it can read the bundled task text: the encoder counterpart of
 * makeGpt2Small.
 */
export function makeRobertaBase(dir: string, tokenizerFrom: string): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(tokenizerFrom, 'config.json'), 'utf8')) as Record<string, unknown>;
  // RoBERTa numbers positions from pad_token_id + 1, so 128 tokens need 130 position rows
  const shape = { C: 768, F: 3072, V: config.vocab_size as number, positions: 130, types: 1, layers: 12 };
  writeSafetensors(join(dir, 'model.safetensors'), encoderTensors(shape, 201), { format: 'pt' });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ ...config, architectures: ['RobertaModel'], hidden_size: shape.C, num_hidden_layers: shape.layers, num_attention_heads: 12, intermediate_size: shape.F, max_position_embeddings: shape.positions }, null, 2),
  );
  copyFileSync(join(tokenizerFrom, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  return dir;
}

/** BERT/RoBERTa encoder weights under their Hugging Face base-model names. */
function encoderTensors(s: { C: number; F: number; V: number; positions: number; types: number; layers: number }, seed: number): Record<string, TensorToWrite> {
  const { C, F } = s;
  const { t, mat, vec } = tensorMaker(seed);
  mat('embeddings.word_embeddings.weight', [s.V, C]);
  mat('embeddings.position_embeddings.weight', [s.positions, C]);
  mat('embeddings.token_type_embeddings.weight', [s.types, C]);
  vec('embeddings.LayerNorm.weight', C, 1);
  vec('embeddings.LayerNorm.bias', C, 0);
  for (let l = 0; l < s.layers; l++) {
    const L = `encoder.layer.${l}`;
    for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      mat(`${L}.${n}.weight`, [C, C]);
      vec(`${L}.${n}.bias`, C, 0);
    }
    vec(`${L}.attention.output.LayerNorm.weight`, C, 1);
    vec(`${L}.attention.output.LayerNorm.bias`, C, 0);
    mat(`${L}.intermediate.dense.weight`, [F, C]);
    vec(`${L}.intermediate.dense.bias`, F, 0);
    mat(`${L}.output.dense.weight`, [C, F]);
    vec(`${L}.output.dense.bias`, C, 0);
    vec(`${L}.output.LayerNorm.weight`, C, 1);
    vec(`${L}.output.LayerNorm.bias`, C, 0);
  }
  return t;
}

export async function makeStories(dir: string): Promise<string> {
  if (!existsSync(join(dir, 'model.safetensors'))) await convertLlama2c(EMBEDDED_MODEL, dir);
  return dir;
}

/**
 * A random-init GPT-2-small-shaped decoder (12 layers, hidden 768, 12 heads, FFN 3072, 128 positions)
 * with mini-gpt's 4,096-token BPE, so it can read the bundled task text: the compute of a real 85M-parameter
 * model for benchmarks that need a tokenizer (its features are random-projection-like, not trained).
 */
export function makeGpt2Small(dir: string, tokenizerFrom: string): string {
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  const C = 768;
  const V = 4096;
  const P = 128;
  const layers = 12;
  const { t, mat, vec } = tensorMaker(101);
  mat('transformer.wte.weight', [V, C]);
  mat('transformer.wpe.weight', [P, C]);
  for (let l = 0; l < layers; l++) {
    const L = `transformer.h.${l}`;
    for (const ln of ['ln_1', 'ln_2']) vec(`${L}.${ln}.weight`, C, 1), vec(`${L}.${ln}.bias`, C, 0);
    // Conv1D layout [in, out], as Hugging Face stores GPT-2
    for (const [n, i, o] of [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, 4 * C], ['mlp.c_proj', 4 * C, C]] as const) {
      mat(`${L}.${n}.weight`, [i, o]);
      vec(`${L}.${n}.bias`, o, 0);
    }
  }
  vec('transformer.ln_f.weight', C, 1);
  vec('transformer.ln_f.bias', C, 0);
  writeSafetensors(join(dir, 'model.safetensors'), t, { format: 'pt' });
  const config = JSON.parse(readFileSync(join(tokenizerFrom, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, n_embd: C, n_layer: layers, n_head: 12, n_inner: 4 * C, n_positions: P }, null, 2));
  copyFileSync(join(tokenizerFrom, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  return dir;
}
