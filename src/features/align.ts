/**
 * Tokenize pre-split words so every word knows its sub-tokens: each word is encoded on its own
 * (a leading-space word for SentencePiece-style vocabularies) and the model's special tokens are placed
 * around the sequence exactly where the tokenizer itself puts them.
 */
import type { TextTokenizer } from '../model/tokenizer.js';

export interface AlignedSequence {
  ids: number[];
  /** Token index range [start, end) of each word. */
  wordSpans: [number, number][];
}

/** Special tokens before / after a text, found by encoding a probe word with and without them. */
export function specialTokenFrame(tok: TextTokenizer): { prefix: number[]; suffix: number[] } {
  const plain = tok.encode('a', { specialTokens: false });
  const full = tok.encode('a', { specialTokens: true });
  for (let i = 0; i + plain.length <= full.length; i++) {
    if (plain.every((v, j) => full[i + j] === v)) return { prefix: full.slice(0, i), suffix: full.slice(i + plain.length) };
  }
  return { prefix: [], suffix: [] };
}

/**
 * Byte-level BPE (GPT-2, RoBERTa) spells a word differently after a space ("Ġworld") than at the start
 * of a text; words after the first get their space back so their ids are those of running text.
 */
export function spaceMarksWords(tok: TextTokenizer): boolean {
  if (tok.kind !== 'hf') return false;
  const first = tok.encode(' the', { specialTokens: false })[0];
  return first !== undefined && tok.idToToken(first).startsWith('\u0120');
}

export function alignWords(tok: TextTokenizer, words: string[], frame = specialTokenFrame(tok), maxTokens = 512, spaced = spaceMarksWords(tok)): AlignedSequence {
  const ids = [...frame.prefix];
  const wordSpans: [number, number][] = [];
  for (const [i, w] of words.entries()) {
    const start = ids.length;
    const pieces = tok.encode(spaced && i > 0 ? ` ${w}` : w, { specialTokens: false });
    ids.push(...(pieces.length ? pieces : tok.encode('?', { specialTokens: false })));
    wordSpans.push([start, ids.length]);
  }
  ids.push(...frame.suffix);
  if (ids.length > maxTokens) {
    // Keep the words that fit; later words get an empty span (callers window them or count them). A first
    // word longer than the whole window (a long URL) keeps its first tokens, so a window never comes out empty.
    const limit = maxTokens - frame.suffix.length;
    const cut = ids.slice(0, limit).concat(frame.suffix);
    return { ids: cut, wordSpans: wordSpans.map(([s, e], i) => (e <= limit ? [s, e] : i === 0 && s < limit ? [s, limit] : [s, s])) };
  }
  return { ids, wordSpans };
}
