/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) for a llama2.c vocabulary, so a converted
 * or compressed llama2.c model loads with AutoTokenizer / transformers.js. The layout is the one
 * transformers' LlamaTokenizerFast (legacy) uses for SentencePiece BPE: normalizer Prepend("▁") + Replace(" ",
 * "▁"), no pre-tokenizer, BPE with byte fallback, merges ranked by the merged piece's score (run.c merges the
 * best-scored pair first, leftmost on ties), BOS added by the post-processor.
 */
import type { Llama2cTokenizer } from './llama2c-tokenizer.js';

const SPECIALS = ['<unk>', '<s>', '</s>'];

export interface HfTokenizerFiles {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
}

function special(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** tokenizer.json / tokenizer_config.json equivalent to run.c's encoder (llama2c-tokenizer.ts) on ordinary text. */
export function llama2cToHf(tok: Llama2cTokenizer, maxPositions: number): HfTokenizerFiles {
  // llama2.c's export stores "▁" as " " and BOS/EOS as "\n<s>\n" / "\n</s>\n"
  const pieces = tok.pieces.map((p, i) => (i < SPECIALS.length ? SPECIALS[i] : p.replaceAll(' ', '▁')));
  const vocab: Record<string, number> = {};
  pieces.forEach((p, i) => {
    if (!(p in vocab)) vocab[p] = i;
  });
  const merges: { pair: [string, string]; score: number; id: number }[] = [];
  pieces.forEach((p, id) => {
    if (id < SPECIALS.length || /^<0x[0-9A-F]{2}>$/.test(p)) return;
    const chars = [...p];
    for (let k = 1; k < chars.length; k++) {
      const a = chars.slice(0, k).join('');
      const b = chars.slice(k).join('');
      if (a in vocab && b in vocab) merges.push({ pair: [a, b], score: tok.scores[id], id });
    }
  });
  merges.sort((x, y) => y.score - x.score || x.id - y.id || vocab[x.pair[0]] - vocab[y.pair[0]]);
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((s, i) => special(i, s)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map((m) => m.pair) },
  };
  const config = {
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    legacy: true,
    clean_up_tokenization_spaces: false,
    model_max_length: maxPositions,
    added_tokens_decoder: Object.fromEntries(SPECIALS.map((s, i) => { const { id: _id, ...entry } = special(i, s); return [String(i), entry]; })),
  };
  return { tokenizer, config };
}
