/**
 * safetensors: 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then raw little-endian data
 * (offsets relative to the first byte after the header).
 * Reading validates everything against the file so a corrupt or truncated file fails here, by name.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { ProbescaleError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { halfToFloat } from '../util/half.js';
import { duplicateTopLevelKey } from './validate.js';

export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface RawTensor {
  dtype: DType;
  shape: number[];
  /** The tensor's bytes inside the file buffer (no copy). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  path: string;
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function readSafetensors(path: string): SafetensorsFile {
  if (!existsSync(path)) throw new ProbescaleError('file not found', { file: path });
  const buf = readFileSync(path);
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

export function parseSafetensors(buf: Uint8Array, path = '<buffer>'): SafetensorsFile {
  const fix = 'the file is corrupt or was cut short while copying; download or write it again';
  if (buf.byteLength < 8) throw new ProbescaleError(`not a safetensors file: only ${buf.byteLength} bytes, need at least 8`, { file: path, fix });
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8) {
    throw new ProbescaleError(`safetensors header length ${headerLen} runs beyond the file (${buf.byteLength} bytes)`, { file: path, fix });
  }
  let header: Record<string, unknown>;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen));
    header = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ProbescaleError(`safetensors header is not valid UTF-8 JSON (${(err as Error).message})`, { file: path, fix });
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new ProbescaleError(`safetensors header must be a JSON object, got ${header === null ? 'null' : typeof header}`, { file: path, fix });
  // JSON.parse keeps the last of two equal names: the first tensor would be silently replaced
  const dup = duplicateTopLevelKey(text);
  if (dup !== undefined) throw new ProbescaleError(`tensor name "${dup}" appears twice in the safetensors header`, { file: path, fix });
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, RawTensor>();
  const spans: [number, number, string][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry && typeof entry === 'object' ? entry : {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!e || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw new ProbescaleError(`tensor "${name}" has a malformed header entry`, { file: path, fix });
    }
    const dtype = e.dtype as DType;
    if (!(dtype in DTYPE_BYTES)) throw new ProbescaleError(`tensor "${name}" has unsupported dtype ${e.dtype}`, { file: path });
    if (!e.shape.every((d) => Number.isInteger(d) && d >= 0) || e.data_offsets.length !== 2 || !e.data_offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new ProbescaleError(`tensor "${name}" has a malformed shape or data_offsets`, { file: path, fix });
    }
    const [begin, end] = e.data_offsets;
    const expected = numel(e.shape) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new ProbescaleError(`tensor "${name}" spans ${end - begin} bytes but shape [${e.shape}] of ${dtype} needs ${expected}`, { file: path, fix });
    }
    if (begin < 0 || end > dataLen) {
      throw new ProbescaleError(`tensor "${name}" data [${begin}, ${end}) lies beyond the end of the file (data section has ${dataLen} bytes): the file is truncated`, { file: path, fix });
    }
    tensors.set(name, { dtype, shape: e.shape, bytes: buf.subarray(dataStart + begin, dataStart + end) });
    spans.push([begin, end, name]);
  }
  // two tensors sharing bytes would alias each other's weights (a writer bug or a crafted file)
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    const [b0, e0, n0] = spans[i - 1];
    const [b1, e1, n1] = spans[i];
    if (b1 < e0 && e1 > b1 && e0 > b0) throw new ProbescaleError(`tensors "${n0}" and "${n1}" overlap in the data section (bytes [${b0}, ${e0}) and [${b1}, ${e1}))`, { file: path, fix });
  }
  return { path, tensors, metadata };
}

/**
 * Any floating dtype to Float32Array (compute runs in fp32). Aligned F32 data is returned as a view
 * into the file buffer (no copy: a large checkpoint is held once); callers must not write into it.
 */
export function toFloat32(t: RawTensor, name = '', path = ''): Float32Array {
  const n = numel(t.shape);
  const b = t.bytes;
  if (t.dtype === 'F32' && b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
  const out = new Float32Array(n);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t.dtype) {
    case 'F32':
      new Uint8Array(out.buffer).set(b);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    default:
      throw new ProbescaleError(`tensor "${name}" has dtype ${t.dtype}; expected a floating type`, { file: path });
  }
}

export interface TensorToWrite {
  dtype: 'F32' | 'F16' | 'BF16' | 'I64';
  shape: number[];
  data: Float32Array | Uint16Array | BigInt64Array;
}

/** Serialize tensors (sorted by name, like the reference writer) with 8-byte aligned header. */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array[] {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (t.data.length !== numel(t.shape)) throw new Error(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
    const len = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  const parts: Uint8Array[] = [prefix, headerBytes];
  for (const name of names) {
    const d = tensors[name].data;
    parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return parts;
}

export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Size check used by loaders that want a friendlier message than ENOENT. */
export function fileSize(path: string): number {
  return statSync(path).size;
}
