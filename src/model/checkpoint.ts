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
import { FAMILIES } from '../engine/families/index.js';
import { unclaimedTensors } from '../engine/family.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import { isLlama2cCheckpoint, loadLlama2c } from './llama2c.js';

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

export function loadModel(path: string, opts: { tokenizerPath?: string } = {}): LoadedModel {
  if (!existsSync(path)) throw new ProbescaleError('model path not found', { file: path, fix: 'pass a Hugging Face model directory or a llama2.c .bin file' });
  if (isLlama2cCheckpoint(path)) return loadLlama2c(path, opts);
  if (!statSync(path).isDirectory()) {
    throw new ProbescaleError('not a model directory and not a llama2.c checkpoint', { file: path, fix: 'pass the directory that holds config.json' });
  }
  const llama2c = llama2cInDir(path);
  if (llama2c) return loadLlama2c(llama2c, opts);
  const arch = readConfig(path);
  const weights = WeightStore.fromDir(path);
  checkStoredLayers(arch, weights.names(), weights.source);
  checkClaimed(arch, weights);
  let tok: Promise<TextTokenizer> | undefined;
  let hash: string | undefined;
  return {
    source: path,
    arch,
    weights,
    tokenizer: () =>
      (tok ??= loadTokenizer(opts.tokenizerPath ?? path, existsSync(join(path, 'vocab_map.json')) ? undefined : arch).then((t) => withVocabMap(t, path))),
    contentHash: () => (hash ??= hashFiles(path)),
  };
}

/**
 * Every stored tensor must be one the family's spec knows: a tensor nobody reads would otherwise be carried
 * silently (a head of another architecture, a renamed layer) and written back as if it belonged.
 */
export function checkClaimed(arch: ArchConfig, weights: WeightStore): void {
  const spec = FAMILIES[arch.family];
  const stray = unclaimedTensors(spec, weights.names());
  if (stray.length === 0) return;
  const shown = stray.slice(0, 5).map((n) => JSON.stringify(n)).join(', ') + (stray.length > 5 ? ` and ${stray.length - 5} more` : '');
  throw new ProbescaleError(`${stray.length} stored tensor(s) are not part of a ${arch.family} model as probescale knows it: ${shown}`, {
    file: weights.source,
    fix: `save the base model or its ${arch.family} language-model head only (config.json says model_type ${JSON.stringify(arch.raw.model_type)})`,
  });
}

/**
 * A folder without config.json that holds one llama2.c checkpoint (a .bin other than a tokenizer.bin /
 * tok*.bin) is that checkpoint. None or several -> an error (several are listed: guessing could probe the
 * wrong model). A folder with config.json -> undefined (Hugging Face layout).
 */
function llama2cInDir(dir: string): string | undefined {
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
