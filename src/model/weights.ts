/**
 * The weights of one checkpoint, read once and converted to fp32 on first use.
 * Single-file (model.safetensors) and sharded (model.safetensors.index.json) layouts.
 * Families ask by canonical Hugging Face name; the store checks presence and shape and says which file is wrong.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { checkFinite } from './validate.js';
import { DTYPE_BYTES, numel, readSafetensors, toFloat32, type RawTensor } from './safetensors.js';

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export class WeightStore {
  private cache = new Map<string, Tensor>();
  /** Files whose bytes release() dropped, with the size and mtime they had, reread on the next get(). */
  private released = new Map<string, { size: number; mtimeMs: number }>();

  constructor(
    private readonly raw: Map<string, { tensor: RawTensor; file: string }>,
    /** Where the weights came from, for error messages. */
    readonly source: string,
    /** Prefix of the base model inside the checkpoint ("bert.", "model.", "transformer.", ...). */
    public prefix = '',
  ) {}

  static fromDir(dir: string): WeightStore {
    const single = join(dir, 'model.safetensors');
    const index = join(dir, 'model.safetensors.index.json');
    const raw = new Map<string, { tensor: RawTensor; file: string }>();
    if (existsSync(single)) {
      for (const [name, tensor] of readSafetensors(single).tensors) raw.set(name, { tensor, file: single });
      return new WeightStore(raw, single);
    }
    if (existsSync(index)) {
      let map: Record<string, string>;
      try {
        map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      } catch (err) {
        throw new ProbescaleError(`cannot read the shard index (${(err as Error).message})`, { file: index });
      }
      if (!map || typeof map !== 'object') throw new ProbescaleError('shard index has no "weight_map"', { file: index });
      for (const shard of new Set(Object.values(map))) {
        const path = join(dir, shard);
        const file = readSafetensors(path);
        for (const [name, tensor] of file.tensors) raw.set(name, { tensor, file: path });
      }
      for (const name of Object.keys(map)) {
        if (!raw.has(name)) throw new ProbescaleError(`index lists tensor "${name}" in ${map[name]} but that shard does not contain it`, { file: index });
      }
      return new WeightStore(raw, index);
    }
    throw new ProbescaleError('no weights found (looked for model.safetensors and model.safetensors.index.json)', {
      file: dir,
      fix: 'save the model with safe_serialization=True, or convert a llama2.c .bin with `probescale convert`',
    });
  }

  static fromTensors(tensors: Record<string, Tensor>, source: string): WeightStore {
    const store = new WeightStore(new Map(), source);
    for (const [name, t] of Object.entries(tensors)) store.cache.set(name, t);
    return store;
  }

  names(): string[] {
    return [...new Set([...this.raw.keys(), ...this.cache.keys()])].sort();
  }

  has(name: string): boolean {
    return this.cache.has(name) || this.raw.has(name);
  }

  /** Use the first prefix under which `anchor` exists (checkpoints with and without a task head differ). */
  choosePrefix(candidates: string[], anchor: string): void {
    const hit = candidates.find((p) => this.has(p + anchor));
    if (hit === undefined) {
      throw new ProbescaleError(`missing tensor "${candidates[0]}${anchor}" (also tried prefixes ${candidates.map((c) => JSON.stringify(c)).join(', ')})`, {
        file: this.source,
        fix: 'the checkpoint does not belong to the model_type in config.json, or it is incomplete',
      });
    }
    this.prefix = hit;
  }

  /**
   * Drop the bytes read from the checkpoint files (names and shapes stay); the next get() rereads the file.
   * Engines built with external data hold their own copy of the weights, so a large model's bytes need not sit
   * in memory twice while it runs. Tensors given with fromTensors are kept.
   */
  release(): void {
    for (const [name, entry] of this.raw) {
      if (!this.released.has(entry.file)) {
        const st = statSync(entry.file);
        this.released.set(entry.file, { size: st.size, mtimeMs: st.mtimeMs });
      }
      entry.tensor = { dtype: entry.tensor.dtype, shape: entry.tensor.shape, bytes: new Uint8Array(0) };
      this.cache.delete(name);
    }
  }

  private reread(file: string): void {
    const was = this.released.get(file)!;
    const st = existsSync(file) ? statSync(file) : undefined;
    if (!st || st.size !== was.size || st.mtimeMs !== was.mtimeMs) {
      throw new ProbescaleError('the checkpoint changed on disk while probescale was using it', { file, fix: 'leave the model folder alone during a run, then run again' });
    }
    for (const [name, tensor] of readSafetensors(file).tensors) {
      const entry = this.raw.get(name);
      if (entry && entry.file === file) entry.tensor = tensor;
    }
    this.released.delete(file);
  }

  /** Tensor by full name, shape-checked. */
  get(name: string, shape?: number[]): Tensor {
    let t = this.cache.get(name);
    if (!t) {
      const entry = this.raw.get(name);
      if (entry && this.released.has(entry.file)) this.reread(entry.file);
      if (!entry) {
        throw new ProbescaleError(`missing tensor "${name}"`, { file: this.source, fix: 'the checkpoint is incomplete or belongs to another architecture' });
      }
      t = { data: toFloat32(entry.tensor, name, entry.file), shape: entry.tensor.shape };
      checkFinite(t.data, name, entry.file);
      this.cache.set(name, t);
    }
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t!.shape[i]))) {
      const file = this.raw.get(name)?.file ?? this.source;
      throw new ProbescaleError(`tensor "${name}" has shape [${t.shape}] but config.json implies [${shape}]`, {
        file,
        fix: 'config.json and the weights disagree: use the config that was saved with these weights',
      });
    }
    return t;
  }

  /** Tensor of the base model (name without the task-head prefix). */
  body(name: string, shape?: number[]): Tensor {
    return this.get(this.prefix + name, shape);
  }

  /**
   * The checkpoint's floating dtype: the one holding most of its floating parameters (F64 counts as F32, which is
   * what compute runs in). F32 for weights given in memory (a llama2.c .bin, a built subnetwork).
   */
  floatDtype(): 'F32' | 'F16' | 'BF16' {
    return dominantFloatDtype([...this.raw.values()].map(({ tensor }) => [tensor.dtype === 'F64' ? 'F32' : tensor.dtype, numel(tensor.shape)]));
  }

  /** Bytes per parameter of the checkpoint's tensor data (4 for weights given in memory, which are fp32). */
  dataBytesPerParameter(): number {
    let bytes = 0, n = 0;
    for (const { tensor } of this.raw.values()) {
      bytes += numel(tensor.shape) * DTYPE_BYTES[tensor.dtype];
      n += numel(tensor.shape);
    }
    return n ? bytes / n : 4;
  }

  /** Number of parameters stored. */
  parameterCount(): number {
    let n = 0;
    for (const name of this.names()) n += numel(this.cache.get(name)?.shape ?? this.raw.get(name)!.tensor.shape);
    return n;
  }
}

/** The floating dtype holding most parameters among (dtype, count) pairs; F32 on a tie or when there is none. */
export function dominantFloatDtype(counts: Iterable<[string, number]>): 'F32' | 'F16' | 'BF16' {
  const count: Record<string, number> = { F32: 0, F16: 0, BF16: 0 };
  for (const [d, n] of counts) if (d in count) count[d] += n;
  return (['F32', 'F16', 'BF16'] as const).reduce((a, d) => (count[d] > count[a] ? d : a), 'F32');
}
