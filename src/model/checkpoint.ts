/**
 * A loaded checkpoint: normalized config + weights (+ tokenizer on demand).
 * Hugging Face directories load directly; a llama2.c .bin is converted in memory (see llama2c.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { readConfig, type ArchConfig } from './config.js';
import { WeightStore } from './weights.js';
import { checkStoredLayers } from './validate.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import { isLlama2cCheckpoint, loadLlama2c } from './llama2c.js';

export interface LoadedModel {
  /** Directory or file the model came from. */
  source: string;
  arch: ArchConfig;
  weights: WeightStore;
  /** Throws a clear error when the checkpoint ships no tokenizer. */
  tokenizer(): TextTokenizer;
  /** Stable hash of config + weight files, for feature caches. */
  contentHash(): string;
}

export function loadModel(path: string, opts: { tokenizerPath?: string } = {}): LoadedModel {
  if (!existsSync(path)) throw new ProbescaleError('model path not found', { file: path, fix: 'pass a Hugging Face model directory or a llama2.c .bin file' });
  if (isLlama2cCheckpoint(path)) return loadLlama2c(path, opts);
  if (!statSync(path).isDirectory()) {
    throw new ProbescaleError('not a model directory and not a llama2.c checkpoint', { file: path, fix: 'pass the directory that holds config.json' });
  }
  const arch = readConfig(path);
  const weights = WeightStore.fromDir(path);
  checkStoredLayers(arch, weights.names(), weights.source);
  let tok: TextTokenizer | undefined;
  let hash: string | undefined;
  return {
    source: path,
    arch,
    weights,
    tokenizer: () => (tok ??= withVocabMap(loadTokenizer(opts.tokenizerPath ?? path, existsSync(join(path, 'vocab_map.json')) ? undefined : arch), path)),
    contentHash: () => (hash ??= hashFiles(path)),
  };
}

/**
 * A vocabulary-trimmed model keeps its original tokenizer plus vocab_map.json (kept original ids in new
 * order); ids are remapped on the way in and out so text and matrices stay consistent.
 */
function withVocabMap(tok: TextTokenizer, dir: string): TextTokenizer {
  const mapPath = join(dir, 'vocab_map.json');
  if (!existsSync(mapPath)) return tok;
  const map = JSON.parse(readFileSync(mapPath, 'utf8')) as { kept: number[]; fallback: number };
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
