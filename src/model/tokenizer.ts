/**
 * Text <-> token ids. Three sources, tried in this order in a model directory:
 *   tokenizer.json (+ tokenizer_config.json)  -> @huggingface/tokenizers (the maintained JS port)
 *   tokenizer.bin / tok*.bin                  -> llama2.c's scored-vocabulary BPE (llama2c-tokenizer.ts)
 * Missing tokenizer -> a clear error, raised only when text actually needs tokenizing.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ProbescaleError } from '../util/errors.js';
import type { ArchConfig } from './config.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';

export interface TextTokenizer {
  readonly kind: 'hf' | 'llama2c';
  readonly vocabSize: number;
  /** Token ids for a text; special tokens (CLS/SEP, BOS) as the tokenizer's post-processor adds them. */
  encode(text: string, opts?: { specialTokens?: boolean; pair?: string }): number[];
  decode(ids: number[]): string;
  idToToken(id: number): string;
}

class HfTokenizer implements TextTokenizer {
  readonly kind = 'hf' as const;
  private tok: Tokenizer;
  readonly vocabSize: number;
  constructor(json: object, config: object) {
    this.tok = new Tokenizer(json, config);
    this.vocabSize = this.tok.get_vocab(true).size;
  }
  encode(text: string, opts: { specialTokens?: boolean; pair?: string } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.specialTokens ?? true, text_pair: opts.pair ?? null }).ids;
  }
  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: true });
  }
  idToToken(id: number): string {
    return this.tok.id_to_token(id) ?? `<${id}>`;
  }
}

function readJson(path: string): object {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (err) {
    throw new ProbescaleError(`not valid JSON (${(err as Error).message})`, { file: path });
  }
}

/** `path` is a model directory or a tokenizer file. */
export function loadTokenizer(path: string, arch?: ArchConfig): TextTokenizer {
  const isDir = existsSync(path) && statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const candidates = isDir ? readdirSync(dir) : [];
  const hfJson = isDir ? join(dir, 'tokenizer.json') : path.endsWith('.json') ? path : '';
  if (hfJson && existsSync(hfJson)) {
    const cfgPath = join(dirname(hfJson), 'tokenizer_config.json');
    const json = readJson(hfJson);
    const cfg = existsSync(cfgPath) ? readJson(cfgPath) : {};
    const notObject = (v: unknown) => !v || typeof v !== 'object' || Array.isArray(v);
    if (notObject(json) || !('model' in json)) throw new ProbescaleError('not a Hugging Face tokenizer.json (no "model" section)', { file: hfJson, fix: 'copy the tokenizer.json saved with the model (tokenizer.save_pretrained)' });
    if (notObject(cfg)) throw new ProbescaleError('tokenizer_config.json must be a JSON object', { file: cfgPath, fix: 'copy the tokenizer_config.json saved with the model, or delete it' });
    try {
      return new HfTokenizer(json, cfg);
    } catch (err) {
      // the library's message is about its own internals; ours names the file
      throw new ProbescaleError(`cannot build a tokenizer from this file (${String((err as Error)?.message ?? err).split('\n')[0].slice(0, 120)})`, { file: hfJson, fix: 'copy the tokenizer.json saved with the model (tokenizer.save_pretrained)' });
    }
  }
  const bin = isDir ? (candidates.includes('tokenizer.bin') ? 'tokenizer.bin' : candidates.find((f) => /^tok.*\.bin$/.test(f))) : path.endsWith('.bin') ? path : undefined;
  if (bin) {
    const binPath = isDir ? join(dir, bin) : bin;
    return Llama2cTokenizer.fromFile(binPath, arch?.vocab);
  }
  throw new ProbescaleError('no tokenizer found (looked for tokenizer.json and a llama2.c tokenizer.bin)', {
    file: path,
    fix: 'copy the tokenizer files next to config.json, or pass --tokenizer FILE; ids-only inputs (inputs.json) need no tokenizer',
  });
}
