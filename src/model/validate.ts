/**
 * Checks that turn a confident wrong answer into a clear error: a config whose numbers cannot describe a
 * model, weights that disagree with it (extra stored layers), non-finite weights, a safetensors header
 * whose tensors overlap or repeat a name. Each names the file and the fix.
 */
import { ProbescaleError } from '../util/errors.js';
import type { ArchConfig } from './config.js';

const FIX_CONFIG = 'use the config.json saved with these weights';

/** The normalized config must describe a buildable model (positive integer sizes, divisible heads, eps > 0). */
export function checkArch(a: ArchConfig, path: string): void {
  // T5's relative positions have no table: maxPositions is Infinity there
  const ints: [string, number][] = [['hidden size', a.hidden], ['num_hidden_layers (layers)', a.layers], ['attention heads', a.heads], ['key/value heads', a.kvHeads], ['head dim', a.headDim], ['intermediate size', a.intermediate], ['vocab_size', a.vocab], ['max positions', a.maxPositions === Infinity ? 1 : a.maxPositions]];
  for (const [what, v] of ints) {
    if (!Number.isInteger(v) || v < 1) throw new ProbescaleError(`${what} must be a positive integer, got ${v}`, { file: path, fix: FIX_CONFIG });
  }
  if (a.heads % a.kvHeads !== 0) throw new ProbescaleError(`${a.heads} attention heads are not a multiple of ${a.kvHeads} key/value heads`, { file: path, fix: FIX_CONFIG });
  if (!(a.eps > 0)) throw new ProbescaleError(`layer-norm epsilon must be positive, got ${a.eps}`, { file: path, fix: FIX_CONFIG });
  if (a.ropeTheta !== undefined && !(a.ropeTheta > 0)) throw new ProbescaleError(`rope_theta must be positive, got ${a.ropeTheta}`, { file: path, fix: FIX_CONFIG });
  if (a.typeVocab !== undefined && !(Number.isInteger(a.typeVocab) && a.typeVocab >= 0)) throw new ProbescaleError(`type_vocab_size must be a non-negative integer, got ${a.typeVocab}`, { file: path, fix: FIX_CONFIG });
  if (a.t5) {
    const t = a.t5;
    if (!Number.isInteger(t.decoderLayers) || t.decoderLayers < 0) throw new ProbescaleError(`num_decoder_layers must be a non-negative integer, got ${t.decoderLayers}`, { file: path, fix: FIX_CONFIG });
    if (!Number.isInteger(t.buckets) || t.buckets < 1 || !(t.maxDistance > 0)) throw new ProbescaleError('relative_attention_num_buckets / max_distance must be positive', { file: path, fix: FIX_CONFIG });
  }
}

/**
 * Stored layers beyond what config.json declares would be silently ignored (a truncated model scored as if
 * whole): the highest layer index in the weight names must fit the config.
 */
export function checkStoredLayers(a: ArchConfig, names: string[], file: string): void {
  const maxIndex = (filter: (n: string) => boolean) => {
    let m = -1;
    for (const n of names) {
      if (!filter(n)) continue;
      const hit = /(?:^|\.)(?:layers|layer|h|block)\.(\d+)\./.exec(n);
      if (hit) m = Math.max(m, Number(hit[1]));
    }
    return m + 1;
  };
  const enc = a.t5 ? maxIndex((n) => !n.startsWith('decoder.')) : maxIndex(() => true);
  if (enc > a.layers) throw new ProbescaleError(`the weights hold ${enc} layers but config.json says num_hidden_layers = ${a.layers}`, { file, fix: `set num_hidden_layers to ${enc}, or use the config saved with these weights` });
  if (a.t5 && !a.t5.encoderOnly) {
    const dec = maxIndex((n) => n.startsWith('decoder.'));
    if (dec > a.t5.decoderLayers) throw new ProbescaleError(`the weights hold ${dec} decoder layers but config.json says ${a.t5.decoderLayers}`, { file, fix: FIX_CONFIG });
  }
}

/** NaN or Inf in a weight makes every output NaN, and probes then score garbage features: refuse. */
export function checkFinite(data: Float32Array, name: string, file: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      let bad = 0;
      for (let j = i; j < data.length; j++) if (data[j] - data[j] !== 0) bad++;
      throw new ProbescaleError(`tensor "${name}" holds ${bad} NaN or infinite value(s) (first at index ${i})`, { file, fix: 'the checkpoint is corrupt or diverged in training; use a finite checkpoint' });
    }
  }
}

/**
 * The first key that appears twice among the top-level keys of a JSON object text (JSON.parse keeps the
 * last silently), or undefined. A small scanner: strings and nesting depth only.
 */
export function duplicateTopLevelKey(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1 && c === '{') expectKey = true;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return undefined;
}
