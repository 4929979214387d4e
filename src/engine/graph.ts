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

/**
 * fp32: every weight as stored. int8: every MatMul by a 2-D weight (the linear layers, LM heads, bridges) runs
 * on int8 weights quantized per output channel at build time, activations quantized per batch at run time
 * (DynamicQuantizeLinear -> com.microsoft MatMulIntegerToFloat; choice measured in bench/RESULTS.md).
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
  /** int8: weight name -> its int8 initializer and per-column scales (a shared layer, e.g. ALBERT's, reuses them). */
  private quantized = new Map<string, { q: string; scale: string }>();
  /** int8: activation name -> its DynamicQuantizeLinear outputs, so q/k/v projections of one input share them. */
  private dynamicQuant = new Map<string, string[]>();
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

  /** x quantized per batch (uint8, scale, zero point), once per activation however many nodes read it. */
  private quantizedActivation(x: string): string[] {
    let xq = this.dynamicQuant.get(x);
    if (!xq) {
      // uint8 activations x int8 weights is the pair the VNNI dot-product instruction (vpdpbusd) multiplies
      xq = this.opN('DynamicQuantizeLinear', [x], 3, {}, 'xq');
      this.dynamicQuant.set(x, xq);
    }
    return xq;
  }

  /** x @ W for a weight W [K, N] in int8: per-column symmetric scales, activations quantized per batch at run time. */
  private quantizedMatMul(x: string, w: string, hint: string): string {
    let qw = this.quantized.get(w);
    if (!qw) {
      const { data, dims } = this.pending.get(w)!;
      this.pending.delete(w);
      const { q, scale } = quantizeColumns(data, dims[0], dims[1]);
      qw = { q: `${w}.int8`, scale: `${w}.scale` };
      this.tensor(qw.q, INT8, dims, new Uint8Array(q.buffer));
      this.tensor(qw.scale, FLOAT, [dims[1]], new Uint8Array(scale.buffer));
      this.quantized.set(w, qw);
    }
    const xq = this.quantizedActivation(x);
    this.usesContribOps = true;
    return this.opN('MatMulIntegerToFloat', [xq[0], qw.q, xq[1], qw.scale, xq[2]], 1, {}, hint, 'com.microsoft')[0];
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
