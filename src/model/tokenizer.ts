/**
 * Text <-> token ids. Three sources, tried in this order in a model directory:
 *   tokenizer.json (+ tokenizer_config.json)  -> @huggingface/tokenizers (the maintained JS port)
 *   tokenizer.bin / tok*.bin                  -> llama2.c's scored-vocabulary BPE (llama2c-tokenizer.ts)
 *   tokenizer.model / spiece.model / spm.model / one other *.model -> SentencePiece (sentencepiece.ts)
 * Missing tokenizer -> a clear error, raised only when text actually needs tokenizing. Loading is async
 * (SentencePiece's WebAssembly instantiates asynchronously); encoding is synchronous.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ProbescaleError } from '../util/errors.js';
import type { ArchConfig } from './config.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import { SentencePieceTokenizer } from './sentencepiece.js';

export interface TextTokenizer {
  readonly kind: 'hf' | 'llama2c' | 'sentencepiece';
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

/** SentencePiece files by the names Hugging Face repositories give them, then any single other *.model. */
const SPM_NAMES = ['tokenizer.model', 'spiece.model', 'spm.model'];

function findSentencePiece(dir: string, files: string[]): string | undefined {
  const named = SPM_NAMES.find((n) => files.includes(n));
  if (named) return join(dir, named);
  if (files.includes('sentencepiece.bpe.model')) {
    // XLM-RoBERTa's file: HF shifts its ids by fairseq's offset (and moves <s>/<pad>/</s>/<unk>), so raw ids would be wrong.
    throw new ProbescaleError('sentencepiece.bpe.model (XLM-RoBERTa) maps its ids through fairseq\'s offset, which is not supported', {
      file: join(dir, 'sentencepiece.bpe.model'),
      fix: 'copy the repository\'s tokenizer.json next to config.json',
    });
  }
  const others = files.filter((f) => f.endsWith('.model'));
  return others.length === 1 ? join(dir, others[0]) : undefined;
}

/** `path` is a model directory or a tokenizer file. */
export async function loadTokenizer(path: string, arch?: ArchConfig): Promise<TextTokenizer> {
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
  const spm = isDir ? findSentencePiece(dir, candidates) : path.endsWith('.model') ? path : undefined;
  if (spm) {
    if (!existsSync(spm)) throw new ProbescaleError('tokenizer file not found', { file: spm });
    const modelType = typeof arch?.raw.model_type === 'string' ? arch.raw.model_type : undefined;
    return SentencePieceTokenizer.fromFile(spm, { vocab: arch?.vocab, modelType });
  }
  throw new ProbescaleError('no tokenizer found (looked for tokenizer.json, a llama2.c tokenizer.bin and a SentencePiece .model)', {
    file: path,
    fix: 'copy the tokenizer files next to config.json, or pass --tokenizer FILE; ids-only inputs (inputs.json) need no tokenizer',
  });
}
