/**
 * Vocabulary trimming (TextPruner-style): keep only the embedding rows of tokens the task data uses
 * (plus special tokens, the first of them the unknown token). `vocab_map.json` lists the kept original ids in
 * their new order; tokenizer.json is rewritten in the new ids (compress/hf-files.ts), else the loader remaps
 * ids through the map (removed ids -> the first kept special), so text tokenizes consistently with the
 * trimmed matrices.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { FAMILIES } from '../engine/families/index.js';

export interface VocabMap {
  /** kept[newId] = original id */
  kept: number[];
  /** new id used for any original id that was trimmed (the unknown token when the tokenizer has one) */
  fallback: number;
  /** set when tokenizer.json was rewritten in the new ids (the loader then applies no remap) */
  tokenizer?: 'tokenizer.json';
}

/** Tensors indexed by token id (the family spec's vocabTensors), bare or under one of its prefixes. */
export function vocabTensors(model: LoadedModel): string[] {
  const spec = FAMILIES[model.arch.family];
  const names = new Set(model.weights.names());
  return [...new Set(spec.vocabTensors.flatMap((n) => ['', ...spec.prefixes].map((p) => p + n)))].filter((n) => names.has(n));
}

/**
 * Specials come first in ascending order, so ids below the first non-special keep their number (RoBERTa's
 * positions count from pad_token_id); removed ids map to `unk` when it is given and kept, else to new id 0.
 */
export function trimVocabulary(model: LoadedModel, tensors: Record<string, TensorToWrite>, used: Iterable<number>, specials: number[], unk?: number): { tensors: Record<string, TensorToWrite>; map: VocabMap; removed: number } {
  const keep = [...new Set([...specials, ...used])].filter((id) => id >= 0 && id < model.arch.vocab);
  const specialsFirst = [...new Set(specials.filter((s) => s >= 0 && s < model.arch.vocab))].sort((a, b) => a - b);
  const kept = [...specialsFirst, ...keep.filter((id) => !specialsFirst.includes(id)).sort((a, b) => a - b)];
  const rowNames = new Set(vocabTensors(model));
  const out: Record<string, TensorToWrite> = {};
  let removed = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!rowNames.has(name)) {
      out[name] = t;
      continue;
    }
    const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const data = new Float32Array(kept.length * width);
    const src = t.data as Float32Array;
    kept.forEach((id, j) => data.set(src.subarray(id * width, (id + 1) * width), j * width));
    removed += (t.shape[0] - kept.length) * width;
    out[name] = { dtype: 'F32', shape: [kept.length, ...t.shape.slice(1)], data };
  }
  const fallback = unk === undefined ? -1 : kept.indexOf(unk);
  return { tensors: out, map: { kept, fallback: fallback >= 0 ? fallback : 0 }, removed };
}

/** Original -> trimmed id lookup. */
export function remapper(map: VocabMap): (id: number) => number {
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  return (id) => inv.get(id) ?? map.fallback;
}
