/**
 * Opening a checkpoint through its family's spec (the registry, families/index.ts): config.json -> ArchConfig
 * by model_type, the stored tensors checked against what the family claims, a llama2.c .bin converted in
 * memory. The formats themselves (safetensors, llama2.c, tokenizers, config fields) are read in src/model;
 * this is where they meet the families, so src/model never imports the engine.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ProbescaleError } from '../util/errors.js';
import { HEALED_MODEL_TYPE, type ArchConfig, type Family } from '../model/config.js';
import type { Raw } from '../model/config-fields.js';
import { hashFiles, llama2cInDir, withVocabMap, type LoadedModel } from '../model/checkpoint.js';
import { findLlama2cTokenizer, isLlama2cCheckpoint, readLlama2c } from '../model/llama2c.js';
import { Llama2cTokenizer } from '../model/llama2c-tokenizer.js';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.js';
import { checkArch, checkStoredLayers } from '../model/validate.js';
import { WeightStore } from '../model/weights.js';
import { FAMILIES } from './families/index.js';
import { unclaimedTensors } from './family.js';

/** Longest token sequence the position table allows (RoBERTa's positions start at padding_idx + 1). */
export function maxSequenceTokens(arch: ArchConfig): number {
  return FAMILIES[arch.family].maxSequenceTokens(arch);
}

/** model_type -> family, from every spec's modelTypes. */
export const SUPPORTED_MODEL_TYPES: Record<string, Family> = Object.fromEntries(
  (Object.keys(FAMILIES) as Family[]).flatMap((f) => FAMILIES[f].modelTypes.map((t) => [t, f])),
);

export function parseConfig(raw: Raw, path = 'config.json'): ArchConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ProbescaleError(`config.json must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`, { file: path, fix: 'use the config.json saved with the model' });
  const arch = parseFamilyConfig(raw, path);
  checkArch(arch, path); // validate/checkArch: sizes, heads, eps
  return arch;
}

function parseFamilyConfig(raw: Raw, path: string): ArchConfig {
  // a healed checkpoint names its base family under probescale.model_type
  const modelType = raw.model_type === HEALED_MODEL_TYPE ? (raw.probescale as { model_type?: unknown } | undefined)?.model_type : raw.model_type;
  const family = typeof modelType === 'string' ? SUPPORTED_MODEL_TYPES[modelType] : undefined;
  if (!family) {
    throw new ProbescaleError(
      `unknown model_type ${JSON.stringify(modelType)}; probescale supports: ${Object.keys(SUPPORTED_MODEL_TYPES).join(', ')}`,
      { file: path, fix: 'use a checkpoint of a supported family, or convert it (llama2.c .bin: `probescale convert`)' },
    );
  }
  return FAMILIES[family].parseConfig(raw, path);
}

export function readConfig(dir: string): ArchConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new ProbescaleError('config.json not found', { file: path, fix: 'point --model at a Hugging Face model directory (config.json + *.safetensors), or convert a llama2.c checkpoint with `probescale convert`' });
  }
  let raw: Raw;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Raw;
  } catch (err) {
    throw new ProbescaleError(`config.json is not valid JSON (${(err as Error).message})`, { file: path });
  }
  return parseConfig(raw, path);
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

export function loadLlama2c(path: string, opts: { tokenizerPath?: string } = {}): LoadedModel {
  const { config, tensors } = readLlama2c(path);
  const arch = parseConfig(config, path);
  const weights = WeightStore.fromTensors(tensors, path);
  let tok: Llama2cTokenizer | undefined;
  let hash: string | undefined;
  return {
    source: path,
    arch,
    weights,
    tokenizer: async () => {
      if (tok) return tok;
      const tp = opts.tokenizerPath ?? findLlama2cTokenizer(path);
      if (!tp) {
        throw new ProbescaleError('no llama2.c tokenizer next to the checkpoint (looked for tokenizer.bin or one tok*.bin)', {
          file: path,
          fix: 'pass --tokenizer path/to/tok.bin',
        });
      }
      return (tok = Llama2cTokenizer.fromFile(tp, arch.vocab));
    },
    contentHash: () => (hash ??= createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)),
  };
}
