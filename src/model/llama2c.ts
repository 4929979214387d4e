/**
 * llama2.c checkpoints ("legacy" export): seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size — negative when the classifier is not shared —, seq_len), then float32 weights in the order
 * token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, two legacy RoPE tables,
 * [wcls]. They map onto Hugging Face Llama names; llama2.c rotates interleaved pairs (2i, 2i+1) while HF uses
 * rotate_half (i, i + D/2), so q_proj/k_proj rows are permuted per head, as transformers' conversion does.
 */
import { existsSync, readFileSync, statSync, readdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { checkReplaceable, writeDirAtomic } from '../util/atomic.js';
import { checkFinite } from './validate.js';
import type { Tensor } from './weights.js';
import { writeSafetensors } from './safetensors.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import { llama2cToHf } from './hf-tokenizer.js';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
  shared: boolean;
}

export function isLlama2cCheckpoint(path: string): boolean {
  return existsSync(path) && statSync(path).isFile() && path.endsWith('.bin');
}

/** HF's permute: rows (h, i, j) with j the pair member -> (h, j, i). */
function interleavedToHalves(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * headDim + 2 * i + j) * cols;
        const dst = (h * headDim + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

export function readLlama2c(path: string): { header: Llama2cHeader; config: Record<string, unknown>; tensors: Record<string, Tensor> } {
  const buf = readFileSync(path);
  const fix = 'the file is not a llama2.c float32 ("legacy" version 0) export, or it was cut short';
  if (buf.byteLength < 28) throw new ProbescaleError('llama2.c checkpoint shorter than its 28-byte header', { file: path, fix });
  const hv = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hiddenDim, layers, heads, kvHeads, vocabSigned, seqLen] = hv;
  const header: Llama2cHeader = { dim, hiddenDim, layers, heads, kvHeads, vocab: Math.abs(vocabSigned), seqLen, shared: vocabSigned > 0 };
  if ([dim, hiddenDim, layers, heads, kvHeads, seqLen].some((v) => v <= 0) || dim % heads !== 0 || heads % kvHeads !== 0) {
    throw new ProbescaleError(`implausible llama2.c header ${JSON.stringify(header)}`, { file: path, fix });
  }
  const D = dim / heads;
  const kvDim = kvHeads * D;
  const V = header.vocab;
  const sizes: [string, number[]][] = [
    ['tok', [V, dim]], ['rms_att', [layers, dim]], ['wq', [layers, dim, dim]], ['wk', [layers, kvDim, dim]], ['wv', [layers, kvDim, dim]],
    ['wo', [layers, dim, dim]], ['rms_ffn', [layers, dim]], ['w1', [layers, hiddenDim, dim]], ['w2', [layers, dim, hiddenDim]],
    ['w3', [layers, hiddenDim, dim]], ['rms_final', [dim]], ['freq_cis_real_imag', [seqLen * D]], ['wcls', header.shared ? [0] : [V, dim]],
  ];
  const totalFloats = sizes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const available = (buf.byteLength - 28) / 4;
  // exactly: a header that declares fewer layers (or a smaller shape) than the file holds would read
  // misaligned weights without complaint
  if (available !== totalFloats) {
    throw new ProbescaleError(`llama2.c checkpoint has ${available} floats after the header but its header (${JSON.stringify(header)}) describes ${totalFloats}`, { file: path, fix });
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + 28 + totalFloats * 4));
  checkFinite(all, 'weights', path);
  const parts: Record<string, Float32Array> = {};
  let off = 0;
  for (const [name, shape] of sizes) {
    const n = shape.reduce((x, y) => x * y, 1);
    parts[name] = all.subarray(off, off + n);
    off += n;
  }
  const per = (name: string, l: number, n: number) => parts[name].slice(l * n, (l + 1) * n);
  const tensors: Record<string, Tensor> = {
    'model.embed_tokens.weight': { data: parts.tok.slice(), shape: [V, dim] },
    'model.norm.weight': { data: parts.rms_final.slice(), shape: [dim] },
  };
  for (let l = 0; l < layers; l++) {
    const L = `model.layers.${l}`;
    tensors[`${L}.input_layernorm.weight`] = { data: per('rms_att', l, dim), shape: [dim] };
    tensors[`${L}.post_attention_layernorm.weight`] = { data: per('rms_ffn', l, dim), shape: [dim] };
    tensors[`${L}.self_attn.q_proj.weight`] = { data: interleavedToHalves(per('wq', l, dim * dim), heads, D, dim), shape: [dim, dim] };
    tensors[`${L}.self_attn.k_proj.weight`] = { data: interleavedToHalves(per('wk', l, kvDim * dim), kvHeads, D, dim), shape: [kvDim, dim] };
    tensors[`${L}.self_attn.v_proj.weight`] = { data: per('wv', l, kvDim * dim), shape: [kvDim, dim] };
    tensors[`${L}.self_attn.o_proj.weight`] = { data: per('wo', l, dim * dim), shape: [dim, dim] };
    tensors[`${L}.mlp.gate_proj.weight`] = { data: per('w1', l, hiddenDim * dim), shape: [hiddenDim, dim] };
    tensors[`${L}.mlp.down_proj.weight`] = { data: per('w2', l, dim * hiddenDim), shape: [dim, hiddenDim] };
    tensors[`${L}.mlp.up_proj.weight`] = { data: per('w3', l, hiddenDim * dim), shape: [hiddenDim, dim] };
  }
  if (!header.shared) tensors['lm_head.weight'] = { data: parts.wcls.slice(), shape: [V, dim] };
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: dim,
    intermediate_size: hiddenDim,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: V,
    max_position_embeddings: seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    hidden_act: 'silu',
    tie_word_embeddings: header.shared,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    converted_from: `llama2.c ${basename(path)}`,
  };
  return { header, config, tensors };
}

/** The llama2.c tokenizer next to a checkpoint: tokenizer.bin or a single tok*.bin. */
export function findLlama2cTokenizer(binPath: string): string | undefined {
  const dir = dirname(binPath);
  const files = readdirSync(dir).filter((f) => f !== basename(binPath) && (f === 'tokenizer.bin' || /^tok.*\.bin$/.test(f)));
  if (files.includes('tokenizer.bin')) return join(dir, 'tokenizer.bin');
  return files.length === 1 ? join(dir, files[0]) : undefined;
}

/** Write a llama2.c checkpoint as a Hugging Face Llama directory (config.json + model.safetensors + tokenizer). */
export async function convertLlama2c(binPath: string, outDir: string, tokenizerPath?: string, opts: { overwrite?: boolean } = {}): Promise<void> {
  checkReplaceable(outDir, { overwrite: opts.overwrite }); // before reading anything: fail fast
  const { header, config, tensors } = readLlama2c(binPath);
  const tp = tokenizerPath ?? findLlama2cTokenizer(binPath);
  await writeDirAtomic(outDir, (tmp) => {
    writeSafetensors(
      join(tmp, 'model.safetensors'),
      Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }])),
      { format: 'pt' },
    );
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    if (tp) {
      const tok = Llama2cTokenizer.fromFile(tp, header.vocab); // validate before copying
      copyFileSync(tp, join(tmp, 'tokenizer.bin'));
      // the same vocabulary as a Hugging Face tokenizer, for AutoTokenizer / transformers.js
      const hf = llama2cToHf(tok, header.seqLen);
      writeFileSync(join(tmp, 'tokenizer.json'), JSON.stringify(hf.tokenizer) + '\n');
      writeFileSync(join(tmp, 'tokenizer_config.json'), JSON.stringify(hf.config, null, 2) + '\n');
      const spm = tp.replace(/\.bin$/, '.model');
      if (existsSync(spm)) copyFileSync(spm, join(tmp, 'tokenizer.model'));
    }
  }, { overwrite: opts.overwrite, what: `probescale convert ${binPath}` });
}
