/**
 * inputs.json, the batch format of the golden fixtures: input_ids [B, T], attention_mask [B, T] (1 = token),
 * optional token_type_ids, decoder_input_ids, decoder_attention_mask. Validated so a bad file fails by name.
 */
import { readFileSync, existsSync } from 'node:fs';
import { ProbescaleError } from '../util/errors.js';
import type { Batch } from './engine.js';

function matrix(raw: unknown, key: string, path: string, required: boolean): number[][] | undefined {
  if (raw === undefined) {
    if (required) throw new ProbescaleError(`missing "${key}"`, { file: path, fix: `add "${key}": [[...], ...] (one row of token ids per sequence)` });
    return undefined;
  }
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((r) => Array.isArray(r) && r.every((v) => Number.isInteger(v) && v >= 0))) {
    throw new ProbescaleError(`"${key}" must be a non-empty array of rows of non-negative integers`, { file: path });
  }
  return raw as number[][];
}

export function readInputs(path: string): Batch {
  if (!existsSync(path)) throw new ProbescaleError('inputs file not found', { file: path });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ProbescaleError(`not valid JSON (${(err as Error).message})`, { file: path });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ProbescaleError(`must be a JSON object with "input_ids" (and optionally "attention_mask"), got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`, { file: path, fix: 'write {"input_ids": [[...]], "attention_mask": [[...]]}' });
  const batch: Batch = {
    inputIds: matrix(raw.input_ids, 'input_ids', path, true)!,
    attentionMask: matrix(raw.attention_mask, 'attention_mask', path, false),
    tokenTypeIds: matrix(raw.token_type_ids, 'token_type_ids', path, false),
    decoderInputIds: matrix(raw.decoder_input_ids, 'decoder_input_ids', path, false),
    decoderAttentionMask: matrix(raw.decoder_attention_mask, 'decoder_attention_mask', path, false),
  };
  const B = batch.inputIds.length;
  for (const [key, m] of Object.entries(batch)) {
    if (m && (m as number[][]).length !== (key.startsWith('decoder') ? batch.decoderInputIds!.length : B)) {
      throw new ProbescaleError(`"${key}" has ${(m as number[][]).length} rows but input_ids has ${B}`, { file: path });
    }
  }
  checkBatchShape(batch, path);
  return batch;
}

/**
 * Masks hold 0/1 with one entry per token (a 2 or a short row would be read as some other mask, silently);
 * every optional matrix has the row lengths of the ids it belongs to.
 */
export function checkBatchShape(batch: Batch, file: string): void {
  const pairs: [string, number[][] | undefined, number[][] | undefined, boolean][] = [
    ['attention_mask', batch.attentionMask, batch.inputIds, true],
    ['token_type_ids', batch.tokenTypeIds, batch.inputIds, false],
    ['decoder_attention_mask', batch.decoderAttentionMask, batch.decoderInputIds, true],
  ];
  for (const [key, m, ids, isMask] of pairs) {
    if (!m || !ids) continue;
    m.forEach((row, b) => {
      if (row.length !== ids[b].length) throw new ProbescaleError(`"${key}" row ${b} has ${row.length} entries but its ids row has ${ids[b].length}`, { file, fix: `give "${key}" exactly one entry per token` });
      if (isMask && row.some((v) => v !== 0 && v !== 1)) throw new ProbescaleError(`"${key}" row ${b} holds a value other than 0 or 1`, { file, fix: 'use 1 for a token and 0 for padding' });
    });
  }
}

/** Token ids must index the embedding table (onnxruntime would fail with a raw Gather error, or read garbage). */
export function checkIdsInVocab(batch: Batch, vocab: number, typeVocab: number | undefined, file: string): void {
  const check = (m: number[][] | undefined, key: string, limit: number) => {
    if (!m) return;
    for (let b = 0; b < m.length; b++) {
      for (const v of m[b]) {
        if (!(Number.isInteger(v) && v >= 0 && v < limit)) throw new ProbescaleError(`"${key}" row ${b} holds id ${v}, outside this model's ${limit} entries (0..${limit - 1})`, { file, fix: 'encode the inputs with this model\'s tokenizer' });
      }
    }
  };
  check(batch.inputIds, 'input_ids', vocab);
  check(batch.decoderInputIds, 'decoder_input_ids', vocab);
  if (typeVocab !== undefined) check(batch.tokenTypeIds, 'token_type_ids', Math.max(typeVocab, 1));
}
