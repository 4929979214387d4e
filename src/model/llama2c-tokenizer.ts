/**
 * llama2.c's tokenizer (tokenizer.bin / tok512.bin): int32 max_token_length, then per piece
 * float32 score, int32 byte length, bytes. Encoding follows run.c: BOS, a dummy-prefix space piece,
 * one piece per UTF-8 code point (unknown code points fall back to byte pieces <0xNN> = byte + 3),
 * then repeatedly merge the adjacent pair whose concatenation is the best-scored piece.
 */
import { readFileSync } from 'node:fs';
import { ProbescaleError } from '../util/errors.js';
import type { TextTokenizer } from './tokenizer.js';

export class Llama2cTokenizer implements TextTokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosId = 1;
  readonly eosId = 2;
  private lookup = new Map<string, number>();

  constructor(readonly pieces: string[], readonly scores: Float32Array, readonly maxTokenLength: number) {
    pieces.forEach((p, i) => {
      if (!this.lookup.has(p)) this.lookup.set(p, i);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  static fromFile(path: string, vocabSize?: number): Llama2cTokenizer {
    const buf = readFileSync(path);
    const fix = 'the tokenizer file is corrupt or does not belong to this model; export it again with llama2.c tokenizer.py';
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.byteLength < 4) throw new ProbescaleError('llama2.c tokenizer is empty', { file: path, fix });
    const maxLen = dv.getInt32(0, true);
    const pieces: string[] = [];
    const scores: number[] = [];
    let off = 4;
    const dec = new TextDecoder('utf-8', { fatal: false });
    while (off < buf.byteLength && (vocabSize === undefined || pieces.length < vocabSize)) {
      if (off + 8 > buf.byteLength) throw new ProbescaleError(`llama2.c tokenizer truncated at piece ${pieces.length}`, { file: path, fix });
      scores.push(dv.getFloat32(off, true));
      const len = dv.getInt32(off + 4, true);
      off += 8;
      if (len < 0 || off + len > buf.byteLength) throw new ProbescaleError(`llama2.c tokenizer piece ${pieces.length} has bad length ${len}`, { file: path, fix });
      pieces.push(dec.decode(buf.subarray(off, off + len)));
      off += len;
    }
    if (vocabSize !== undefined && pieces.length !== vocabSize) {
      throw new ProbescaleError(`tokenizer has ${pieces.length} pieces but the model's vocab_size is ${vocabSize}`, { file: path, fix });
    }
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxLen);
  }

  encode(text: string, opts: { specialTokens?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if (opts.specialTokens ?? true) tokens.push(this.bosId);
    if (text.length > 0) {
      const prefix = this.lookup.get(' ');
      if (prefix !== undefined) tokens.push(prefix);
    }
    const enc = new TextEncoder();
    for (const ch of text) {
      const id = this.lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const byte of enc.encode(ch)) tokens.push(byte + 3);
    }
    for (;;) {
      let best = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = this.lookup.get(this.pieces[tokens[i]] + this.pieces[tokens[i + 1]]);
        if (id !== undefined && this.scores[id] > best) {
          best = this.scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return tokens;
  }

  /** One piece as run.c prints it: leading space dropped after BOS, <0xNN> pieces become that byte. */
  decodePiece(prev: number, id: number): Uint8Array {
    let piece = this.pieces[id];
    if (prev === this.bosId && piece.startsWith(' ')) piece = piece.slice(1);
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return new TextEncoder().encode(piece);
  }

  decode(ids: number[]): string {
    const parts: Uint8Array[] = [];
    let prev = this.bosId;
    for (const id of ids) {
      if (id === this.bosId || id === this.eosId) {
        prev = id;
        continue;
      }
      parts.push(this.decodePiece(prev, id));
      prev = id;
    }
    return new TextDecoder().decode(Buffer.concat(parts));
  }

  idToToken(id: number): string {
    return this.pieces[id] ?? `<${id}>`;
  }
}
