/**
 * Byte-level BPE training (GPT-2 / RoBERTa style), written out as a standard tokenizer.json that
 * @huggingface/tokenizers loads for encoding. The maintained JS tokenizers packages encode only; none
 * on the npm registry trains a vocabulary, so the merge learning (a few dozen lines) lives here:
 * pre-tokenize with GPT-2's regex, map bytes to printable characters, then repeatedly merge the most
 * frequent adjacent pair (ties broken by the pair's text, so training is deterministic).
 */
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable-character map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

export interface BpeResult {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/** Learn merges until the vocabulary (specials + 256 bytes + merges) reaches vocabSize. */
export function trainByteLevelBpe(texts: Iterable<string>, vocabSize: number, specials: string[]): BpeResult {
  const byteChar = bytesToUnicode();
  const enc = new TextEncoder();
  const wordFreq = new Map<string, number>();
  for (const text of texts) {
    for (const piece of text.match(PRETOKENIZE) ?? []) {
      const mapped = Array.from(enc.encode(piece), (b) => byteChar[b]).join('');
      wordFreq.set(mapped, (wordFreq.get(mapped) ?? 0) + 1);
    }
  }
  const vocab = new Map<string, number>();
  for (const s of specials) vocab.set(s, vocab.size);
  for (const c of [...byteChar].sort()) vocab.set(c, vocab.size);

  // words as symbol arrays; pair statistics with an index of the words that contain each pair
  const words = [...wordFreq.keys()].map((w) => [...w]);
  const freqs = [...wordFreq.values()];
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const key = (a: string, b: string) => `${a}\u0000${b}`;
  const addWord = (i: number, sign: number) => {
    const w = words[i];
    for (let j = 0; j + 1 < w.length; j++) {
      const k = key(w[j], w[j + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freqs[i]);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(i);
      }
    }
  };
  words.forEach((_, i) => addWord(i, 1));

  const merges: [string, string][] = [];
  while (vocab.size < vocabSize) {
    let best: string | null = null;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && best !== null && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (!best || bestCount < 2) break; // nothing left worth merging
    const [a, b] = best.split('\u0000');
    const merged = a + b;
    merges.push([a, b]);
    vocab.set(merged, vocab.size);
    for (const i of pairWords.get(best) ?? []) {
      const w = words[i];
      let has = false;
      for (let j = 0; j + 1 < w.length; j++) if (w[j] === a && w[j + 1] === b) has = true;
      if (!has) continue;
      addWord(i, -1);
      const next: string[] = [];
      for (let j = 0; j < w.length; j++) {
        if (j + 1 < w.length && w[j] === a && w[j + 1] === b) {
          next.push(merged);
          j++;
        } else next.push(w[j]);
      }
      words[i] = next;
      addWord(i, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return { vocab, merges };
}

/** tokenizer.json for a byte-level BPE; `roberta` adds <s> ... </s> around each text (RobertaProcessing). */
export function tokenizerJson(bpe: BpeResult, specials: string[], style: 'gpt2' | 'roberta'): object {
  const added = specials.map((content) => ({ id: bpe.vocab.get(content)!, content, single_word: false, lstrip: content === '<mask>', rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor:
      style === 'roberta'
        ? { type: 'RobertaProcessing', sep: ['</s>', bpe.vocab.get('</s>')], cls: ['<s>', bpe.vocab.get('<s>')], trim_offsets: true, add_prefix_space: false }
        : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(bpe.vocab),
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
