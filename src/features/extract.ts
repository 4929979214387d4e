/**
 * One forward pass per split gives every layer's features. A feature row is the concatenation of
 * mean-pooled token ranges of one sequence: [0,1) is first-token pooling, the whole sequence is mean
 * pooling, a word's sub-token range gives word features, two spans give an edge-probe row.
 * Rows stream to one file per layer (positional writes), so memory holds one batch of hidden states at
 * a time whatever the split size; the finished directory is renamed into place (never half-written) and
 * reused when the same model, layers, inputs and pooling come again.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { mkdirp, pidAlive } from '../util/atomic.js';
import { ProbescaleError, fsError } from '../util/errors.js';
import { join } from 'node:path';
import { startProgress } from '../util/progress.js';
import type { Engine } from '../engine/engine.js';
import { floatToHalf, halfToFloat } from '../util/half.js';
import type { Matrix } from './matrix.js';

export interface RowSpec {
  /** Index of the sequence this row pools from. */
  seq: number;
  /** Token ranges [start, end), each mean-pooled; the row is their concatenation. */
  ranges: [number, number][];
}

export interface ExtractOptions {
  cacheDir: string;
  /** Human-readable part of the cache key, e.g. "upos/train/first". */
  label: string;
  dtype?: 'f32' | 'f16';
  /** Sequences per forward batch. */
  batchSize?: number;
  progress?: boolean;
}

/** Rows grouped by sequence, and sequences sorted by length so batches pad little. A batch is always
 * order[b * batchSize, (b + 1) * batchSize): the same sequences whichever process runs it, hence the same
 * padded shapes and the same hidden states. */
export interface BatchPlan {
  order: number[];
  rowsOf: Map<number, number[]>;
  batchSize: number;
  batches: number;
}

export function planBatches(seqs: number[][], rows: RowSpec[], batchSize = 32): BatchPlan {
  const width = rows[0].ranges.length;
  const rowsOf = new Map<number, number[]>();
  rows.forEach((r, i) => {
    if (r.ranges.length !== width) throw new Error(`row ${i} pools ${r.ranges.length} ranges, expected ${width}`);
    const list = rowsOf.get(r.seq);
    if (list) list.push(i);
    else rowsOf.set(r.seq, [i]);
  });
  const order = [...rowsOf.keys()].sort((a, b) => seqs[a].length - seqs[b].length);
  return { order, rowsOf, batchSize, batches: Math.ceil(order.length / batchSize) };
}

/**
 * Run batches [b0, b1) of `plan` and pool their rows; `emit(layer, firstRow, rows)` receives each run of
 * consecutive row indices (f32, rows x cols, a view valid until the next call). The one loop both the
 * in-process extraction and a scale-out shard run, so their features are the same bits.
 */
export async function poolBatches(
  engine: Engine, seqs: number[][], rows: RowSpec[], plan: BatchPlan, b0: number, b1: number, label: string,
  emit: (layer: number, first: number, data: Float32Array) => void, onBatch?: (sequences: number) => void,
): Promise<void> {
  const C = engine.model.arch.hidden;
  const cols = rows[0].ranges.length * C;
  const onlyLast = engine.options.hiddenStates === 'last';
  const L = onlyLast ? 1 : engine.options.layers.length + 1;
  const { order, rowsOf, batchSize } = plan;
  let stage = new Float32Array(0);
  for (let b = b0; b < b1; b++) {
    const batchSeqs = order.slice(b * batchSize, (b + 1) * batchSize);
    const out = await engine.run({ inputIds: batchSeqs.map((s) => seqs[s]) });
    const T = Math.max(...batchSeqs.map((s) => seqs[s].length));
    // this batch's rows in file order: pooled into one staging buffer per layer, then each run of
    // consecutive rows goes out in one write (a write per row cost more than the forward pass on
    // mini-gpt UPOS: 430k small writes)
    const batchRows = batchSeqs.flatMap((s, bi) => rowsOf.get(s)!.map((ri) => ({ ri, bi }))).sort((a, b) => a.ri - b.ri);
    if (stage.length < batchRows.length * cols) stage = new Float32Array(batchRows.length * cols);
    for (let l = 0; l < L; l++) {
      const hs = (onlyLast ? out.last_hidden_state ?? out.encoder_last_hidden_state : out[`hidden_states.${l}`] ?? out[`encoder_hidden_states.${l}`]).data as Float32Array;
      stage.fill(0, 0, batchRows.length * cols);
      batchRows.forEach(({ ri, bi }, j) => {
        rows[ri].ranges.forEach(([s, e], k) => {
          const n = Math.max(e - s, 1);
          const o = j * cols + k * C;
          for (let t = s; t < Math.max(e, s + 1); t++) {
            const base = (bi * T + t) * C;
            for (let c = 0; c < C; c++) stage[o + c] += hs[base + c] / n;
          }
        });
      });
      // non-finite hidden states (overflow in fp32, a broken checkpoint) would be probed as if they were features
      for (let i = 0, n = batchRows.length * cols; i < n; i++) {
        if (stage[i] - stage[i] !== 0) throw new ProbescaleError(`the model produced NaN or infinite hidden states at representation ${l} (${label})`, { file: engine.model.source, fix: 'the checkpoint overflows or is corrupt; check it with probescale forward' });
      }
      for (let j0 = 0, j = 1; j <= batchRows.length; j++) {
        if (j < batchRows.length && batchRows[j].ri === batchRows[j - 1].ri + 1) continue;
        emit(l, batchRows[j0].ri, stage.subarray(j0 * cols, j * cols));
        j0 = j;
      }
    }
    onBatch?.(batchSeqs.length);
  }
}

/** Rows as stored in a cache file of `dtype`. */
export function encodeRows(data: Float32Array, dtype: 'f32' | 'f16'): Uint8Array {
  return dtype === 'f32' ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(Uint16Array.from(data, floatToHalf).buffer);
}

export interface FeatureSet {
  dir: string;
  /** content key of the entry (its folder name under the cache) */
  key: string;
  rows: number;
  cols: number;
  /** hidden_states.0 (embeddings) .. hidden_states.L */
  layers: number;
  dtype: 'f32' | 'f16';
  fromCache: boolean;
  /** One layer's rows x cols features. `into` (at least rows x cols) is filled and returned instead of a new
   * array: reusing one buffer across layers avoids first-touch page faults, which cost ~0.3 s per 100 MB on
   * the 2-core test VM (measured), several times the read itself. */
  load(layer: number, into?: Float32Array): Matrix;
}

interface Meta {
  rows: number;
  cols: number;
  layers: number;
  dtype: 'f32' | 'f16';
  label: string;
  key: string;
}

export function cacheKey(engine: Engine, seqs: number[][], rows: RowSpec[], dtype: string): string {
  const h = createHash('sha256');
  h.update(engine.model.contentHash());
  h.update(`layers=${engine.options.layers.join(',')};states=${engine.options.hiddenStates};bridges=${Object.keys(engine.options.bridges ?? {}).join(',')};dtype=${dtype};${engine.options.precision === 'int8' ? 'precision=int8;' : ''}`); // fp32 keys unchanged: existing caches stay valid
  for (const b of Object.values(engine.options.bridges ?? {})) h.update(new Uint8Array(b.weight.buffer, b.weight.byteOffset, b.weight.byteLength));
  for (const s of seqs) h.update(Int32Array.from(s)).update('|');
  for (const r of rows) h.update(`${r.seq}:${r.ranges.map((x) => x.join('-')).join(',')};`);
  return h.digest('hex').slice(0, 20);
}

function openSet(dir: string, meta: Meta, fromCache: boolean): FeatureSet {
  const bytes = meta.dtype === 'f16' ? 2 : 4;
  return {
    ...meta,
    dir,
    fromCache,
    load(layer: number, into?: Float32Array): Matrix {
      const file = join(dir, `layer-${layer}.${meta.dtype}`);
      const size = meta.rows * meta.cols;
      const out = into && into.length >= size ? into.subarray(0, size) : new Float32Array(size);
      const fd = openSync(file, 'r');
      try {
        if (fstatSync(fd).size !== size * bytes) throw new ProbescaleError(`feature-cache layer ${layer} is damaged`, { file: dir, fix: 'delete this folder; it is rebuilt on the next run' });
        // f32 straight into the result (no intermediate Buffer); f16 through a half-size staging array
        const target = meta.dtype === 'f32' ? new Uint8Array(out.buffer, out.byteOffset, size * 4) : new Uint8Array(size * 2);
        for (let off = 0; off < target.length; ) {
          const got = readSync(fd, target, off, target.length - off, off);
          if (got === 0) throw new ProbescaleError(`feature-cache layer ${layer} is damaged`, { file: dir, fix: 'delete this folder; it is rebuilt on the next run' });
          off += got;
        }
        if (meta.dtype === 'f16') {
          const h = new Uint16Array(target.buffer, 0, size);
          for (let i = 0; i < size; i++) out[i] = halfToFloat(h[i]);
        }
      } finally {
        closeSync(fd);
      }
      return { data: out, rows: meta.rows, cols: meta.cols };
    },
  };
}

export async function extractFeatures(engine: Engine, seqs: number[][], rows: RowSpec[], opts: ExtractOptions): Promise<FeatureSet> {
  const dtype = opts.dtype ?? 'f32';
  const key = cacheKey(engine, seqs, rows, dtype);
  const dir = join(opts.cacheDir, key);
  if (rows.length === 0) throw new Error(`no feature rows for ${opts.label}: the split is empty`);
  const C = engine.model.arch.hidden;
  const width = rows[0].ranges.length;
  const cols = width * C;
  // An engine built with hiddenStates 'last' yields one feature layer: the final representation.
  const onlyLast = engine.options.hiddenStates === 'last';
  const L = onlyLast ? 1 : engine.options.layers.length + 1;
  const bytes = dtype === 'f16' ? 2 : 4;
  const expected = { rows: rows.length, cols, layers: L, dtype, key };
  cleanStale(opts.cacheDir);
  const cached = readEntry(dir, expected);
  if (cached) return openSet(dir, cached, true);

  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true }); // this pid's own leftover (pids are reused)
  mkdirp(opts.cacheDir);
  try {
    mkdirSync(tmp);
  } catch (err) {
    throw fsError(err, tmp, 'create a feature-cache entry');
  }
  const fds = Array.from({ length: L }, (_, l) => {
    const fd = openSync(join(tmp, `layer-${l}.${dtype}`), 'w');
    ftruncateSync(fd, rows.length * cols * bytes);
    return fd;
  });
  try {
    const plan = planBatches(seqs, rows, opts.batchSize ?? 32);
    const write = (l: number, first: number, buf: Uint8Array) => writeSync(fds[l], buf, 0, buf.byteLength, first * cols * bytes);
    const bar = startProgress(`features ${opts.label}`, plan.order.length, { unit: 'sequences', enabled: !!opts.progress });
    await poolBatches(engine, seqs, rows, plan, 0, plan.batches, opts.label, (l, first, data) => write(l, first, encodeRows(data, dtype)), (n) => bar.increment(n));
    bar.stop();
  } catch (err) {
    fds.forEach((fd) => closeSync(fd));
    rmSync(tmp, { recursive: true, force: true });
    throw fsError(err, tmp, 'write the feature cache');
  }
  fds.forEach((fd) => closeSync(fd));
  const meta: Meta = { rows: rows.length, cols, layers: L, dtype, label: opts.label, key };
  try {
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw fsError(err, tmp, 'write the feature cache');
  }
  // Entries are content-addressed and immutable: a complete entry is never replaced or deleted while
  // another process may be reading it. If a concurrent run finished the same entry first, ours is dropped.
  try {
    renameSync(tmp, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    rmSync(tmp, { recursive: true, force: true });
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw fsError(err, dir, 'store the feature-cache entry');
    const theirs = readEntry(dir, expected);
    if (!theirs) throw new ProbescaleError('a feature-cache entry written by another process is damaged', { file: dir, fix: 'run again (damaged entries are rebuilt)' });
    return openSet(dir, theirs, true);
  }
  return openSet(dir, meta, false);
}

/**
 * A complete, intact cache entry for these inputs, or undefined. A damaged one (unreadable meta.json, a
 * different shape, a layer file of the wrong size: a crash or a full disk) is moved aside and removed, so
 * the caller rebuilds it.
 */
function readEntry(dir: string, want: Omit<Meta, 'label'>): Meta | undefined {
  if (!existsSync(dir)) return undefined;
  let meta: Meta | undefined;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    meta = undefined;
  }
  const bytes = want.dtype === 'f16' ? 2 : 4;
  const intact =
    !!meta && typeof meta === 'object' && meta.rows === want.rows && meta.cols === want.cols && meta.layers === want.layers && meta.dtype === want.dtype && meta.key === want.key &&
    Array.from({ length: want.layers }, (_, l) => statSync(join(dir, `layer-${l}.${want.dtype}`), { throwIfNoEntry: false })?.size === want.rows * want.cols * bytes).every(Boolean);
  if (intact) return meta;
  // rename first (atomic), then delete: a concurrent reader never sees a half-deleted entry under the key
  const aside = `${dir}.${process.pid}.damaged`;
  try {
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
  } catch {
    // another process moved it first
  }
  return undefined;
}

const cleaned = new Set<string>();
/**
 * Remove `<key>.<pid>.tmp` / `.damaged` folders left by processes that no longer exist (SIGINT, SIGKILL);
 * folders of live processes are theirs. Once per cache folder per process.
 */
function cleanStale(cacheDir: string): void {
  if (cleaned.has(cacheDir)) return;
  cleaned.add(cacheDir);
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^[0-9a-f]{20}\.(\d+)\.(tmp|damaged)$/.exec(n); // only our own entries: --cache may be a shared folder
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid && m[2] === 'tmp') continue; // ours, maybe in use by a concurrent extraction
    rmSync(join(cacheDir, n), { recursive: true, force: true });
  }
}

/** A complete cache entry by key (scale-out workers open the entries the coordinator assembled), or undefined. */
export function openCachedFeatures(cacheDir: string, key: string): FeatureSet | undefined {
  const dir = join(cacheDir, key);
  let meta: Meta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
  const ok = readEntry(dir, { rows: meta.rows, cols: meta.cols, layers: meta.layers, dtype: meta.dtype, key });
  return ok ? openSet(dir, ok, true) : undefined;
}

/** What a split's features are (key, shape) and the batch plan that computes them, without computing them. */
export interface FeaturePlan {
  key: string;
  plan: BatchPlan;
  layers: number;
  cols: number;
  rows: number;
  dtype: 'f32' | 'f16';
}

export function featurePlan(engine: Engine, seqs: number[][], rows: RowSpec[], opts: { dtype?: 'f32' | 'f16'; batchSize?: number } = {}): FeaturePlan {
  const dtype = opts.dtype ?? 'f32';
  const L = engine.options.hiddenStates === 'last' ? 1 : engine.options.layers.length + 1;
  return { key: cacheKey(engine, seqs, rows, dtype), plan: planBatches(seqs, rows, opts.batchSize ?? 32), layers: L, cols: rows[0].ranges.length * engine.model.arch.hidden, rows: rows.length, dtype };
}

/** A part of a split's features: a folder with one file per layer holding row runs [first, count, ...] in order. */
export interface FeaturePart {
  dir: string;
  runs: number[];
}

/**
 * A split's features read straight from its parts (scale-out shards), with no assembled copy: load(l) places
 * each part's rows of layer l at their row indices. The parts must cover every row exactly once (checked).
 */
export function partsFeatureSet(meta: { key: string; rows: number; cols: number; layers: number; dtype: 'f32' | 'f16' }, parts: FeaturePart[], fromCache: boolean): FeatureSet {
  const bytes = meta.dtype === 'f16' ? 2 : 4;
  const seen = new Uint8Array(meta.rows);
  for (const p of parts) {
    for (let r = 0; r < p.runs.length; r += 2) {
      for (let i = p.runs[r]; i < p.runs[r] + p.runs[r + 1]; i++) {
        if (i >= meta.rows || seen[i]) throw new ProbescaleError(`feature parts of ${meta.key} overlap or exceed its ${meta.rows} rows (row ${i})`, { file: p.dir, fix: 'run again (damaged parts are recomputed once removed)' });
        seen[i] = 1;
      }
    }
  }
  if (seen.indexOf(0) >= 0) throw new ProbescaleError(`feature parts of ${meta.key} miss row ${seen.indexOf(0)} of ${meta.rows}`, { file: parts[0]?.dir ?? '', fix: 'run again' });
  return {
    ...meta,
    dir: parts[0]?.dir ?? '',
    fromCache,
    load(layer: number, into?: Float32Array): Matrix {
      const size = meta.rows * meta.cols;
      const out = into && into.length >= size ? into.subarray(0, size) : new Float32Array(size);
      for (const p of parts) {
        const file = join(p.dir, `layer-${layer}.${meta.dtype}`);
        const fd = openSync(file, 'r');
        try {
          let covered = 0;
          for (let r = 0; r < p.runs.length; r += 2) covered += p.runs[r + 1];
          if (fstatSync(fd).size !== covered * meta.cols * bytes) throw new ProbescaleError(`feature part layer ${layer} is damaged (${fstatSync(fd).size} bytes for ${covered} rows)`, { file: p.dir, fix: 'delete this folder; it is recomputed on the next run' });
          let pos = 0;
          for (let r = 0; r < p.runs.length; r += 2) {
            const n = p.runs[r + 1] * meta.cols;
            // f32 straight into its rows of the result; f16 through a staging array
            const target = meta.dtype === 'f32' ? new Uint8Array(out.buffer, out.byteOffset + p.runs[r] * meta.cols * 4, n * 4) : new Uint8Array(n * 2);
            for (let off = 0; off < target.length; ) {
              const got = readSync(fd, target, off, target.length - off, pos + off);
              if (got === 0) throw new ProbescaleError(`feature part layer ${layer} is damaged`, { file: p.dir, fix: 'delete this folder; it is recomputed on the next run' });
              off += got;
            }
            if (meta.dtype === 'f16') {
              const h = new Uint16Array(target.buffer, 0, n);
              const o = p.runs[r] * meta.cols;
              for (let i = 0; i < n; i++) out[o + i] = halfToFloat(h[i]);
            }
            pos += n * bytes;
          }
        } finally {
          closeSync(fd);
        }
      }
      return { data: out, rows: meta.rows, cols: meta.cols };
    },
  };
}
