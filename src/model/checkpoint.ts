/**
 * A loaded checkpoint: normalized config + weights (+ tokenizer on demand), and the files of a checkpoint
 * folder (content hash, vocab_map.json, a lone llama2.c .bin). Opening one goes through its family's spec:
 * loadModel in src/engine/load.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import type { TextTokenizer } from './tokenizer.js';
import type { WeightStore } from './weights.js';
import type { ArchConfig } from './config.js';

export interface LoadedModel {
  /** Directory or file the model came from. */
  source: string;
  arch: ArchConfig;
  weights: WeightStore;
  /** Rejects with a clear error when the checkpoint ships no tokenizer. Async: SentencePiece's WebAssembly loads asynchronously. */
  tokenizer(): Promise<TextTokenizer>;
  /** Stable hash of config + weight files, for feature caches. */
  contentHash(): string;
}

/**
 * A folder without config.json that holds one llama2.c checkpoint (a .bin other than a tokenizer.bin /
 * tok*.bin) is that checkpoint. None or several -> an error (several are listed: guessing could probe the
 * wrong model). A folder with config.json -> undefined (Hugging Face layout).
 */
export function llama2cInDir(dir: string): string | undefined {
  if (existsSync(join(dir, 'config.json'))) return undefined;
  const bins = readdirSync(dir)
    .filter((f) => f.endsWith('.bin') && f !== 'tokenizer.bin' && !/^tok.*\.bin$/.test(f) && !/^pytorch_model.*\.bin$/.test(f))
    .sort();
  if (bins.length > 1) {
    throw new ProbescaleError(`no config.json, and ${bins.length} llama2.c checkpoints (${bins.join(', ')})`, {
      file: dir,
      fix: `pass one of them as --model, e.g. --model ${join(dir, bins[0])}`,
    });
  }
  if (bins.length === 0) {
    throw new ProbescaleError('config.json not found, and no llama2.c .bin checkpoint either', {
      file: dir,
      fix: 'point --model at a Hugging Face model directory (config.json + *.safetensors) or at a llama2.c .bin (or the folder holding exactly one)',
    });
  }
  return join(dir, bins[0]);
}

/**
 * A vocabulary-trimmed model has vocab_map.json (kept original ids in new order) and either a tokenizer.json
 * rewritten in the new ids, or its original tokenizer, whose ids are remapped on the way in and out.
 */
export function withVocabMap(tok: TextTokenizer, dir: string): TextTokenizer {
  const mapPath = join(dir, 'vocab_map.json');
  if (!existsSync(mapPath)) return tok;
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { kept: number[]; fallback: number; tokenizer?: string };
  // tokenizer.json rewritten in the trimmed ids by compress/hf-files.ts: already consistent
  if (map.tokenizer === 'tokenizer.json' && tok.kind === 'hf') return { kind: tok.kind, vocabSize: map.kept.length, encode: (t, o) => tok.encode(t, o), decode: (ids) => tok.decode(ids), idToToken: (j) => tok.idToToken(j) };
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  return {
    kind: tok.kind,
    vocabSize: map.kept.length,
    encode: (text, o) => tok.encode(text, o).map((id) => inv.get(id) ?? map.fallback),
    decode: (ids) => tok.decode(ids.map((j) => map.kept[j] ?? 0)),
    idToToken: (j) => tok.idToToken(map.kept[j] ?? 0),
  };
}

/** sha256 over config.json and every weight file (names + bytes). */
export function hashFiles(dir: string): string {
  const h = createHash('sha256');
  const files = readdirSync(dir).filter((f) => f === 'config.json' || f.endsWith('.safetensors') || f.endsWith('.bin')).sort();
  for (const f of files) {
    h.update(f);
    h.update(readFileSync(join(dir, f)));
  }
  return h.digest('hex').slice(0, 16);
}
