/** Shared test helpers: fixture paths and tolerance comparisons. */
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { readSafetensors, toFloat32 } from '../src/model/safetensors.js';
import { ProbescaleError } from '../src/util/errors.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'hf-tiny');
export const ZOO_FIXTURES = join(ROOT, 'test', 'fixtures', 'hf-zoo');
export const STORIES = join(ROOT, 'models', 'stories260K');

/** A fresh folder under the system temp dir (`ps-<tag>-XXXXXX`). */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ps-${tag}-`));
}

/** A temp copy of a model folder, as tempDir(tag)/<name>, for tests that damage or patch it. */
export function tempModelCopy(src: string, tag: string, name = basename(src)): string {
  const dir = join(tempDir(tag), name);
  cpSync(src, dir, { recursive: true });
  return dir;
}

/** `fn` fails with a ProbescaleError whose message matches every pattern. */
export async function expectProbescaleError(fn: () => unknown, ...patterns: RegExp[]): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProbescaleError, `expected a ProbescaleError, got ${String(caught)}`);
  for (const p of patterns) assert.match((caught as Error).message, p);
}

export function readGolden(path: string): Map<string, { data: Float32Array; shape: number[] }> {
  const file = readSafetensors(path);
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [name, t] of file.tensors) out.set(name, { data: toFloat32(t, name, path), shape: t.shape });
  return out;
}

/**
 * Max |ours - golden| over valid positions (mask[b][t] = 1) of a [B, T, ...] tensor,
 * and the worst excess over the tolerance atol + rtol*|golden|.
 */
export function compareMasked(ours: Float32Array, golden: Float32Array, shape: number[], mask: number[][] | undefined, atol: number, rtol: number) {
  const [B, T] = shape;
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  let maxAbs = 0;
  let worst = -Infinity;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < (shape.length >= 3 ? T : 1); t++) {
      if (shape.length >= 3 && mask && !mask[b][t]) continue;
      const base = shape.length >= 3 ? (b * T + t) * inner : b * shape[1];
      const n = shape.length >= 3 ? inner : shape[1];
      for (let i = 0; i < n; i++) {
        const d = Math.abs(ours[base + i] - golden[base + i]);
        if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
        worst = Math.max(worst, d - (atol + rtol * Math.abs(golden[base + i])));
      }
    }
  }
  return { maxAbs, withinTolerance: worst <= 0 };
}

/**
 * A character-level WordPiece tokenizer.json (ids 0-4 special, then one id per lower-case letter, digit and
 * punctuation mark, word-initial and ##-continuation): 5 + 2 x 50 ids, inside every fixture's vocabulary,
 * so the tiny random checkpoints (which ship no tokenizer) can run the pipeline on real task text.
 */
export function writeCharTokenizer(dir: string): void {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789.,;:!?\'"-()&$%/'];
  const vocab: Record<string, number> = {};
  for (const t of [...specials, ...chars, ...chars.map((c) => `##${c}`)]) vocab[t] = Object.keys(vocab).length;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
}
