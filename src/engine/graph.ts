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

  /** When set, large weights are appended to this file (ONNX external data) instead of the protobuf. */
  private external?: { fd: number; location: string; offset: number };

  constructor(readonly name: string, externalDataPath?: string) {
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
    // Graph outputs need their own names: route through Identity so one value can be published twice.
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, elemType, dims.length ? dims : undefined));
  }

  /** A float weight; `data` is row-major with the given dims. */
  weight(name: string, data: Float32Array, dims: number[]): string {
    if (this.initNames.has(name)) return name;
    this.initNames.add(name);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.external && data.byteLength >= 1024) {
      const ext = this.external;
      const pad = (64 - (ext.offset % 64)) % 64; // aligned, as onnxruntime prefers
      if (pad) writeSync(ext.fd, new Uint8Array(pad));
      ext.offset += pad;
      writeSync(ext.fd, bytes);
      this.initializers.push({
        name,
        dataType: FLOAT,
        dims,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: ext.location },
          { key: 'offset', value: String(ext.offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ],
      });
      ext.offset += bytes.byteLength;
      return name;
    }
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: bytes });
    return name;
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
    this.closeExternalData();
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'probescale',
      opsetImport: [{ domain: '', version: OPSET }],
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
