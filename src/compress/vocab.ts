/**
 * Vocabulary trimming (TextPruner-style): keep only the embedding rows of tokens the task data uses
 * (plus special tokens). The tokenizer itself is kept; `vocab_map.json` lists the kept original ids in
 * their new order and the loader remaps ids through it (unknown ids -> the first kept special, normally
 * UNK/pad), so text tokenizes consistently with the trimmed matrices.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { FAMILIES } from '../engine/families/index.js';

export interface VocabMap {
  /** kept[newId] = original id */
  kept: number[];
  /** new id used for any original id that was trimmed */
  fallback: number;
}

/** Tensors indexed by token id (the family spec's vocabTensors), bare or under one of its prefixes. */
export function vocabTensors(model: LoadedModel): string[] {
  const spec = FAMILIES[model.arch.family];
  const names = new Set(model.weights.names());
  return [...new Set(spec.vocabTensors.flatMap((n) => ['', ...spec.prefixes].map((p) => p + n)))].filter((n) => names.has(n));
}

export function trimVocabulary(model: LoadedModel, tensors: Record<string, TensorToWrite>, used: Iterable<number>, specials: number[]): { tensors: Record<string, TensorToWrite>; map: VocabMap; removed: number } {
  const keep = [...new Set([...specials, ...used])].filter((id) => id >= 0 && id < model.arch.vocab);
  const specialsFirst = [...new Set(specials.filter((s) => s >= 0 && s < model.arch.vocab))];
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
  return { tensors: out, map: { kept, fallback: 0 }, removed };
}

/** Original -> trimmed id lookup. */
export function remapper(map: VocabMap): (id: number) => number {
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  return (id) => inv.get(id) ?? map.fallback;
}
