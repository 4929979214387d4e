/**
 * A small ONNX graph builder over the onnx-proto protobuf classes.
 * Families describe their math with `g.op(...)`; weights become initializers; the result is a
 * serialized ModelProto that onnxruntime-node loads from memory.
 */
import onnxProto from 'onnx-proto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';

const { onnx } = onnxProto;
/** Integers become INT attributes; wrap a float as `{ float: x }` so 1.0 is not taken for an int. */
type Attr = number | string | number[] | Float32Array | { float: number } | { tensor: onnxProto.onnx.ITensorProto };

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const INT8 = onnx.TensorProto.DataType.INT8;
export const UINT8 = onnx.TensorProto.DataType.UINT8;

/**
 * fp32: every weight as stored. int8: every MatMul by a 2-D weight (the linear layers, LM heads, bridges) runs
 * on int8 weights quantized per output channel at build time and uint8 activations quantized per row (token) at
 * run time (QuantizeLinear with one block per row -> com.microsoft MatMulIntegerToFloat); QAttention's input
 * is quantized per batch (its kernel takes one scale). Choices measured in bench/RESULTS.md.
 * bf16 is not offered: onnxruntime's CPU provider has no bfloat16 MatMul kernel (1.30, measured).
 */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/** IR 10 / opset 21: LayerNormalization (17), Gelu (20) and axes-as-input reductions (18) are all available. */
const IR_VERSION = 10;
const OPSET = 21;

export class GraphBuilder {
  private nodes: onnxProto.onnx.INodeProto[] = [];
  private initializers: onnxProto.onnx.ITensorProto[] = [];
  private inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();
  private initNames = new Set<string>();
  /** int8: 2-D weights not yet emitted; the first node that reads one decides int8 (MatMul's B) or fp32. */
  private pending = new Map<string, { data: Float32Array; dims: number[] }>();
  /**
   * int8: weight name -> its int8 initializer and per-column scales (a shared layer, e.g. ALBERT's, reuses them);
   * `K` = the weight's rows, `extra` = rows appended for the activations' zero points (see quantizedMatMul).
   */
  private quantized = new Map<string, { q: string; scale: string; K?: number; extra?: number }>();
  /** int8: activation name -> its DynamicQuantizeLinear outputs, so readers of one input share them. */
  private dynamicQuant = new Map<string, string[]>();
  /** int8: activation name -> its per-row codes, scales, zero points; and `${x}|${m}` -> codes with m zero-point columns. */
  private rowQuant = new Map<string, { q: string; scale: string; zp: string }>();
  private rowQuantAug = new Map<string, string>();
  private usesContribOps = false;

  /** When set, large weights are appended to this file (ONNX external data) instead of the protobuf. */
  private external?: { fd: number; location: string; offset: number };

  constructor(readonly name: string, externalDataPath?: string, readonly precision: Precision = 'fp32') {
    if (externalDataPath) this.useExternalData(externalDataPath, basename(externalDataPath));
  }

  /**
   * Stream weights into an external-data file as they are added, so neither the weight copies nor a
   * protobuf holding them stay in memory; onnxruntime reads the file when the session is created.
   */
  useExternalData(path: string, location: string): void {
    this.external = { fd: openSync(path, 'w'), location, offset: 0 };
  }

  private closeExternalData(): void {
    if (this.external) closeSync(this.external.fd);
    this.external = undefined;
  }

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, elemType: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, value: string, elemType = FLOAT, dims: (number | string)[] = []): void {
    this.flush(value);
    // Graph outputs need their own names: route through Identity so one value can be published twice. (Renaming
    // the node's output instead saves the copy, ~1% of an int8 BERT-base forward, but raised peak RSS by 90-220 MB.)
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, elemType, dims.length ? dims : undefined));
  }

  /** A float weight; `data` is row-major with the given dims. */
  weight(name: string, data: Float32Array, dims: number[]): string {
    if (this.initNames.has(name)) return name;
    this.initNames.add(name);
    if (this.precision === 'int8' && dims.length === 2) this.pending.set(name, { data, dims });
    else this.tensor(name, FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return name;
  }

  /** An initializer from raw little-endian bytes; large ones go to the external-data file when there is one. */
  private tensor(name: string, dataType: number, dims: number[], bytes: Uint8Array): void {
    if (this.external && bytes.byteLength >= 1024) {
      const ext = this.external;
      const pad = (64 - (ext.offset % 64)) % 64; // aligned, as onnxruntime prefers
      if (pad) writeSync(ext.fd, new Uint8Array(pad));
      ext.offset += pad;
      writeSync(ext.fd, bytes);
      this.initializers.push({
        name,
        dataType,
        dims,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: ext.location },
          { key: 'offset', value: String(ext.offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ],
      });
      ext.offset += bytes.byteLength;
      return;
    }
    this.initializers.push({ name, dataType, dims, rawData: bytes });
  }

  /** Emit a pending 2-D weight as fp32 (read by something other than MatMul's B). */
  private flush(name: string): void {
    const p = this.pending.get(name);
    if (!p) return;
    this.pending.delete(name);
    if (this.quantized.has(name)) throw new Error(`internal: weight ${name} was quantized, then read as fp32`);
    this.tensor(name, FLOAT, p.dims, new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  }

  /** x quantized per batch (uint8, scale, zero point) for QAttention, once per activation however many nodes read it. */
  private quantizedActivation(x: string): string[] {
    let xq = this.dynamicQuant.get(x);
    if (!xq) {
      // uint8 activations x int8 weights is the pair the VNNI dot-product instruction (vpdpbusd) multiplies
      xq = this.opN('DynamicQuantizeLinear', [x], 3, {}, 'xq');
      this.dynamicQuant.set(x, xq);
    }
    return xq;
  }

  /**
   * x [.., K] quantized per row (token) to uint8: scale = (max - min) / 255 and zero point = round(-min / scale)
   * over the row's range widened to include 0. Per batch, one token with a wide range coarsens every token's
   * steps; per row, hidden states of gpt-m came out 1.6x closer to fp32 (bench/RESULTS.md, 2026-11-29).
   */
  private rowQuantized(x: string, K: number): { q: string; scale: string; zp: string } {
    let r = this.rowQuant.get(x);
    if (!r) {
      const axis = this.constI64([-1]);
      const lo = this.op('Min', [this.op('ReduceMin', [x, axis], { keepdims: 1 }), this.constF(0)], {}, 'xmin');
      const hi = this.op('Max', [this.op('ReduceMax', [x, axis], { keepdims: 1 }), this.constF(0)], {}, 'xmax');
      // an all-zero row: any positive scale (its codes are all the zero point)
      const scale = this.op('Max', [this.op('Div', [this.op('Sub', [hi, lo]), this.constF(255)]), this.constF(1e-30)], {}, 'xscale');
      const zp = this.op('Cast', [this.op('Round', [this.op('Div', [this.op('Neg', [lo]), scale])])], { to: UINT8 }, 'xzp');
      // opset 21 blocked quantization, one block per row: a single pass over x
      const q = this.op('QuantizeLinear', [x, scale, zp], { axis: -1, block_size: K }, 'xq');
      r = { q, scale, zp };
      this.rowQuant.set(x, r);
    }
    return r;
  }

  /**
   * x @ W for a weight W [K, N] in int8, per-column symmetric weight scales, activations quantized per row.
   * MatMulIntegerToFloat takes one activation zero point, so each row's own zero point z_r goes into the GEMM:
   * the codes get m extra columns equal to z_r and W gets m extra int8 rows summing to -sum_k W[k, n], which
   * makes the integer product sum_k (q[r, k] - z_r) W[k, n] exactly; m = ceil(max_n |sum_k W[k, n]| / 127).
   * The row scale is applied to the float result (one Mul).
   */
  private quantizedMatMul(x: string, w: string, hint: string): string {
    let qw = this.quantized.get(w);
    if (!qw) {
      const { data, dims } = this.pending.get(w)!;
      this.pending.delete(w);
      const [K, N] = dims;
      const { q, scale } = quantizeColumns(data, K, N);
      const { rows, extra } = zeroPointRows(q, K, N);
      const all = new Int8Array((K + extra) * N);
      all.set(q);
      all.set(rows, K * N);
      qw = { q: `${w}.int8`, scale: `${w}.scale`, K, extra };
      this.tensor(qw.q, INT8, [K + extra, N], new Uint8Array(all.buffer));
      this.tensor(qw.scale, FLOAT, [N], new Uint8Array(scale.buffer));
      this.quantized.set(w, qw);
    }
    const m = qw.extra!;
    const xr = this.rowQuantized(x, qw.K!);
    const key = `${x}|${m}`;
    let codes = this.rowQuantAug.get(key);
    if (!codes) {
      codes = m === 0 ? xr.q : this.op('Concat', [xr.q, this.op('Expand', [xr.zp, this.constI64([m])])], { axis: -1 }, 'xqz');
      this.rowQuantAug.set(key, codes);
    }
    this.usesContribOps = true;
    const y = this.opN('MatMulIntegerToFloat', [codes, qw.q, this.constF(1), qw.scale], 1, {}, hint, 'com.microsoft')[0];
    return this.op('Mul', [y, xr.scale], {}, hint);
  }

  /**
   * int8 self-attention of a plain encoder layer in one com.microsoft QAttention node: q/k/v weights [C, C] (in,
   * out; q NOT pre-scaled: the kernel divides by sqrt(head size)) quantized per column as one [C, 3C] matrix, the
   * activation quantized per batch (shared with other readers of x); `mask` is attention_mask as int32 [B, T].
   * The kernel writes q/k/v per head and the context back in [B, T, C], so no Transpose nodes are needed.
   */
  qAttention(x: string, ws: [string, string, string], bs: [string, string, string], mask: string, heads: number): string {
    const key = ws.join('|');
    let qw = this.quantized.get(key); // a shared layer (ALBERT) reads the same three weights again
    if (!qw) {
      const parts = ws.map((w) => {
        const p = this.pending.get(w);
        if (!p) throw new Error(`internal: QAttention weight ${w} is not a pending 2-D weight`);
        this.pending.delete(w);
        return p;
      });
      const [K, N] = parts[0].dims;
      const cat = new Float32Array(K * 3 * N);
      for (let k = 0; k < K; k++) parts.forEach((p, i) => cat.set(p.data.subarray(k * N, (k + 1) * N), k * 3 * N + i * N));
      const { q, scale } = quantizeColumns(cat, K, 3 * N);
      qw = { q: `${ws[0]}.qkv.int8`, scale: `${ws[0]}.qkv.scale` };
      this.tensor(qw.q, INT8, [K, 3 * N], new Uint8Array(q.buffer));
      this.tensor(qw.scale, FLOAT, [3 * N], new Uint8Array(scale.buffer));
      this.quantized.set(key, qw);
    }
    const xq = this.quantizedActivation(x);
    const bias = this.op('Concat', bs, { axis: 0 });
    this.usesContribOps = true;
    return this.opN('QAttention', [xq[0], qw.q, bias, xq[1], qw.scale, mask, xq[2]], 1, { num_heads: heads }, 'qattn', 'com.microsoft')[0];
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims}:${values}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c_i64');
    const buf = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: INT64, dims, rawData: new Uint8Array(buf.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  constF(values: number[] | number, dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    const d = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `f32:${d}:${arr}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c_f32');
    const buf = new Float32Array(arr);
    this.initializers.push({ name, dataType: FLOAT, dims: d, rawData: new Uint8Array(buf.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  /** Add one node; returns its (first) output. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, hint = opType): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  opN(opType: string, inputs: string[], nOut: number, attrs: Record<string, Attr> = {}, hint = opType, domain = ''): string[] {
    if (this.precision === 'int8') {
      if (opType === 'MatMul' && domain === '' && (this.pending.has(inputs[1]) || this.quantized.has(inputs[1]))) return [this.quantizedMatMul(inputs[0], inputs[1], hint)];
      for (const i of inputs) this.flush(i);
    }
    const outs = Array.from({ length: nOut }, () => this.fresh(hint));
    this.nodes.push({
      opType,
      domain,
      input: inputs,
      output: outs,
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Serialized ModelProto ready for InferenceSession.create. */
  toBytes(): Uint8Array {
    for (const name of [...this.pending.keys()]) this.flush(name);
    this.closeExternalData();
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'probescale',
      opsetImport: [{ domain: '', version: OPSET }, ...(this.usesContribOps ? [{ domain: 'com.microsoft', version: 1 }] : [])],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: number, dims?: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

function attribute(name: string, v: Attr): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    return Number.isInteger(v) && !Object.is(v, -0) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (v instanceof Float32Array) return { name, type: A.FLOATS, floats: Array.from(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.TENSOR, t: v.tensor };
}

/**
 * Symmetric per-output-channel int8: W [K, N] (in, out) -> q [K, N] in -127..127 and scale [N] = max|W[:, n]| / 127,
 * so W[k, n] ~ q[k, n] * scale[n] with an error of at most scale[n] / 2.
 */
export function quantizeColumns(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(w[row + n]));
  }
  const inv = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    scale[n] = scale[n] > 0 ? scale[n] / 127 : 1; // an all-zero column: any scale, its codes are 0
    inv[n] = 1 / scale[n];
  }
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) q[row + n] = Math.max(-127, Math.min(127, Math.round(w[row + n] * inv[n])));
  }
  return { q, scale };
}

/**
 * Rows appended to int8 weights q [K, N] so that codes with m extra columns equal to a row's zero point z give
 * sum_k (x_k - z) q[k, n]: m rows of int8 values whose column sums are -sum_k q[k, n] (m = 0 when those are all 0).
 */
export function zeroPointRows(q: Int8Array, K: number, N: number): { rows: Int8Array; extra: number } {
  const sums = new Int32Array(N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) sums[n] += q[k * N + n];
  let most = 0;
  for (let n = 0; n < N; n++) most = Math.max(most, Math.abs(sums[n]));
  const m = Math.ceil(most / 127);
  const rows = new Int8Array(m * N);
  for (let n = 0; n < N; n++) {
    const v = -sums[n];
    const base = Math.trunc(v / m);
    const rem = v - base * m; // |rem| < m; the first |rem| rows take one more step toward v
    for (let j = 0; j < m; j++) rows[j * N + n] = base + (j < Math.abs(rem) ? Math.sign(rem) : 0);
  }
  return { rows, extra: m };
}
