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
  return batch;
}
