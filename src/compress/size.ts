/**
 * Bytes of the written files against the original checkpoint, factor by factor, so that the factors multiply to
 * each file's total: layer selection x vocabulary trimming (parameters) x precision (tensor bytes per parameter
 * written over the original's: an fp32 ONNX from an f16 checkpoint is 200%) x file layout (bytes on disk per tensor
 * byte, over the original's: headers; the ONNX graph's transposed weight copies) x int8 (model_quantized.onnx over
 * model.onnx). One ratio per file: the safetensors and the ONNX files differ in precision and layout.
 */
import type { LoadedModel } from '../model/checkpoint.js';
import { checkpointBytes, type MaterializeResult } from './materialize.js';

export interface FileSize {
  /** path inside the written folder */
  file: string;
  /** what the file holds: F32 / F16 / BF16 tensors, or int8 linear layers (fp32 elsewhere) */
  precisionName: string;
  bytes: number;
  precision: number;
  layout: number;
  /** model_quantized.onnx only: its bytes over model.onnx's */
  int8?: number;
  /** bytes over the original checkpoint's = selection x vocabulary x precision x layout (x int8) */
  total: number;
}

export interface SizeReport {
  originalBytes: number;
  original: { dtype: string; bytesPerParameter: number; parameters: number };
  written: { safetensors: number; onnx: number; onnxQuantized?: number };
  /** parameters written before trimming over every parameter stored in the checkpoint (a tensor no subset writes, such as T5's decoder, counts as dropped) */
  selection: number;
  /** parameters after vocabulary trimming over before */
  vocabulary: number;
  files: { safetensors: FileSize; onnx: FileSize; onnxQuantized?: FileSize };
}

export function sizeReport(model: LoadedModel, written: MaterializeResult): SizeReport {
  const stored = model.weights.parameterCount();
  const originalBytes = checkpointBytes(model.source);
  const origBpp = model.weights.dataBytesPerParameter();
  // the original's own bytes on disk per tensor byte (its headers): the written files' layout is relative to it
  const origLayout = originalBytes / (stored * origBpp);
  const P = written.parameters;
  const selection = written.parametersBeforeTrim / stored;
  const vocabulary = P / written.parametersBeforeTrim;
  const file = (name: string, precisionName: string, bytes: number, bpp: number, layoutBytes: number, int8?: number): FileSize => ({
    file: name,
    precisionName,
    bytes,
    precision: bpp / origBpp,
    layout: layoutBytes / (P * bpp) / origLayout,
    ...(int8 !== undefined ? { int8 } : {}),
    total: bytes / originalBytes,
  });
  const b = written.bytes;
  // the ONNX graphs are fp32 (the engine computes in fp32); the int8 file quantizes the fp32 graph's linear layers
  return {
    originalBytes,
    original: { dtype: written.dtype.source, bytesPerParameter: origBpp, parameters: stored },
    written: b,
    selection,
    vocabulary,
    files: {
      safetensors: file('model.safetensors', written.dtype.safetensors, b.safetensors, written.safetensorsDataBytes / P, b.safetensors),
      onnx: file('onnx/model.onnx', 'F32', b.onnx, 4, b.onnx),
      ...(b.onnxQuantized !== undefined ? { onnxQuantized: file('onnx/model_quantized.onnx', 'int8 linear layers', b.onnxQuantized, 4, b.onnx, b.onnxQuantized / b.onnx) } : {}),
    },
  };
}

const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
const DTYPE_NAME: Record<string, string> = { F32: 'fp32', F16: 'f16', BF16: 'bf16' };

/** One line per written file: its total and the factors that multiply to it. */
export function sizeFactorLines(s: SizeReport): string[] {
  const orig = DTYPE_NAME[s.original.dtype] ?? s.original.dtype;
  return Object.values(s.files).map((f) => {
    const prec = f.int8 !== undefined ? 'fp32' : (DTYPE_NAME[f.precisionName] ?? f.precisionName);
    return `${f.file}: ${pc(f.total)} of the original's bytes = layer selection ${pc(s.selection)} x vocabulary ${pc(s.vocabulary)} x precision ${pc(f.precision)} (${prec} from ${orig}) x file layout ${pc(f.layout)}${f.file.endsWith('.onnx') ? ' (transposed weight copies, graph)' : ' (header)'}${f.int8 !== undefined ? ` x int8 ${pc(f.int8)}` : ''}`;
  });
}
