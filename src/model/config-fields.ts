/** Reading config.json fields with Hugging Face's defaults; every family's parseConfig uses these. */
import { ProbescaleError } from '../util/errors.js';
import type { Activation } from './config.js';

export type Raw = Record<string, unknown>;

/** A numeric field, or `dflt` when absent (save_pretrained omits defaults); required when dflt is undefined. */
export function num(raw: Raw, key: string, dflt?: number, path = 'config.json'): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ProbescaleError(`missing required field "${key}"`, { file: path, fix: `add "${key}" to config.json` });
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProbescaleError(`field "${key}" must be a number, got ${JSON.stringify(v)}`, { file: path });
  return v;
}

export function optNum(raw: Raw, key: string): number | undefined {
  const v = raw[key];
  return typeof v === 'number' ? v : undefined;
}

export function act(raw: Raw, key: string, dflt: string, path: string): Activation {
  const a = (raw[key] as string | undefined) ?? dflt;
  const map: Record<string, Activation> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu', silu: 'silu', swish: 'silu' };
  const out = map[a];
  if (!out) throw new ProbescaleError(`activation "${a}" (${key}) is not supported; supported: ${Object.keys(map).join(', ')}`, { file: path });
  return out;
}

/** pad/bos/eos ids as stored (absent: undefined). */
export function specialIds(raw: Raw) {
  return { raw, padTokenId: optNum(raw, 'pad_token_id'), bosTokenId: optNum(raw, 'bos_token_id'), eosTokenId: optNum(raw, 'eos_token_id') };
}
