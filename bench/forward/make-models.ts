/**
 * Benchmark models, made on the fly (never committed): a random-init BERT-base-shaped encoder
 * (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522), a GPT-2-small-shaped decoder with a real
 * tokenizer, and stories260K converted to HF layout.
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
  const C = 768;
  const F = 3072;
  const V = 30522;
  const { t, mat, vec } = tensorMaker(1);
  mat('embeddings.word_embeddings.weight', [V, C]);
  mat('embeddings.position_embeddings.weight', [512, C]);
  mat('embeddings.token_type_embeddings.weight', [2, C]);
  vec('embeddings.LayerNorm.weight', C, 1);
  vec('embeddings.LayerNorm.bias', C, 0);
  for (let l = 0; l < layers; l++) {
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
  writeSafetensors(join(dir, 'model.safetensors'), t, { format: 'pt' });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ architectures: ['BertModel'], model_type: 'bert', hidden_size: C, num_hidden_layers: layers, num_attention_heads: 12, intermediate_size: F, vocab_size: V, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' }, null, 2),
  );
  return dir;
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
