/**
 * SentEval-style linguistic probes (Conneau et al. 2018) rebuilt from UD English-EWT trees, since the
 * original probing files cannot be obtained here. Every probe is a sentence task; see data/SENTEVAL.md.
 */
import type { UdSentence } from './conllu.js';
import type { SentenceExample } from './types.js';
import { rng } from './read.js';

const detok = (words: string[]) => words.join(' ');
const forms = (s: UdSentence) => s.words.map((w) => w.form);
const root = (s: UdSentence) => s.words.find((w) => w.head === 0)!;

/** Sentence length in words, 6 bins. */
export function lengthProbe(sents: UdSentence[]): SentenceExample[] {
  const bins: [number, string][] = [[5, '1-5'], [8, '6-8'], [12, '9-12'], [17, '13-17'], [25, '18-25'], [Infinity, '26+']];
  return sents.map((s) => ({ text: detok(forms(s)), label: bins.find(([max]) => s.words.length <= max)![1] }));
}

/** Depth of the dependency tree (root = 1), 5 bins. */
export function depthProbe(sents: UdSentence[]): SentenceExample[] {
  return sents.map((s) => {
    const depth = (id: number): number => {
      let d = 1;
      let w = s.words[id - 1];
      while (w.head !== 0 && d < 100) {
        w = s.words[w.head - 1];
        d++;
      }
      return d;
    };
    const max = Math.max(...s.words.map((w) => depth(w.id)));
    const label = max <= 3 ? '1-3' : max <= 4 ? '4' : max <= 5 ? '5' : max <= 7 ? '6-7' : '8+';
    return { text: detok(forms(s)), label };
  });
}

/** Tense of the main (root) verb: Past or Pres; sentences whose root has no tense are skipped. */
export function tenseProbe(sents: UdSentence[]): SentenceExample[] {
  return sents.flatMap((s) => {
    const r = root(s);
    const aux = s.words.find((w) => w.head === r.id && (w.deprel === 'aux' || w.deprel === 'cop') && w.feats.Tense);
    const tense = r.upos === 'VERB' ? r.feats.Tense ?? aux?.feats.Tense : undefined;
    return tense === 'Past' || tense === 'Pres' ? [{ text: detok(forms(s)), label: tense }] : [];
  });
}

/** Number (Sing/Plur) of the root's nominal subject or object. */
function argumentNumber(sents: UdSentence[], rel: string): SentenceExample[] {
  return sents.flatMap((s) => {
    const r = root(s);
    const arg = s.words.find((w) => w.head === r.id && w.deprel === rel && (w.upos === 'NOUN' || w.upos === 'PROPN'));
    const n = arg?.feats.Number;
    return n === 'Sing' || n === 'Plur' ? [{ text: detok(forms(s)), label: n }] : [];
  });
}
export const subjectNumberProbe = (s: UdSentence[]) => argumentNumber(s, 'nsubj');
export const objectNumberProbe = (s: UdSentence[]) => argumentNumber(s, 'obj');

/** Two adjacent words swapped in half of the sentences (>= 4 words, not touching the final punctuation). */
export function bigramShiftProbe(sents: UdSentence[], seed: number): SentenceExample[] {
  const r = rng(seed);
  return sents.flatMap((s) => {
    const w = forms(s);
    if (w.length < 4) return [];
    if (r() < 0.5) return [{ text: detok(w), label: 'original' }];
    const i = Math.floor(r() * (w.length - 2));
    [w[i], w[i + 1]] = [w[i + 1], w[i]];
    return [{ text: detok(w), label: 'inverted' }];
  });
}

/**
 * Coordination inversion: sentences whose root has a coordinated clause (conj with its own cc);
 * in half of them the two clauses change places around the conjunction.
 */
export function coordinationInversionProbe(sents: UdSentence[], seed: number): SentenceExample[] {
  const r = rng(seed);
  return sents.flatMap((s) => {
    const rt = root(s);
    const conj = s.words.find((w) => w.head === rt.id && w.deprel === 'conj' && (w.upos === 'VERB' || w.upos === 'AUX'));
    const cc = conj && s.words.find((w) => w.head === conj.id && w.deprel === 'cc');
    if (!conj || !cc || cc.id < rt.id) return [];
    const w = forms(s);
    const end = w.length && s.words[w.length - 1].upos === 'PUNCT' ? w.length - 1 : w.length;
    const first = w.slice(0, cc.id - 1);
    const second = w.slice(cc.id, end);
    if (first.length < 2 || second.length < 2) return [];
    if (r() < 0.5) return [{ text: detok(w), label: 'original' }];
    return [{ text: detok([...second, w[cc.id - 1], ...first, ...w.slice(end)]), label: 'inverted' }];
  });
}

/**
 * Semantic odd man out: in about half the sentences one noun or verb (not the first word) is replaced by
 * another word of the same Penn tag (XPOS: NN, NNS, VBD, ... so inflection stays right) and the same
 * log2-frequency bin in `vocabFrom` (forms seen 5+ times), so neither the part of speech, the inflection nor
 * how common the word is gives the change away; only context does.
 * SentEval also matched the new bigrams' corpus frequencies, which one treebank is too small to estimate.
 */
export function semanticOddManOutProbe(sents: UdSentence[], vocabFrom: UdSentence[], seed: number): SentenceExample[] {
  const counts = new Map<string, number>();
  const keyOf = (x: { upos: string; xpos: string; form: string }) => (x.upos === 'NOUN' || x.upos === 'VERB' ? `${x.xpos} ${x.form.toLowerCase()}` : '');
  for (const s of vocabFrom) for (const w of s.words) if (keyOf(w)) counts.set(keyOf(w), (counts.get(keyOf(w)) ?? 0) + 1);
  const bins = new Map<string, string[]>();
  const binOf = (key: string) => `${key.split(' ')[0]} ${Math.floor(Math.log2(counts.get(key)!))}`;
  for (const [key, n] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (n >= 5) bins.set(binOf(key), [...(bins.get(binOf(key)) ?? []), key.split(' ')[1]]);
  const r = rng(seed);
  return sents.flatMap((s) => {
    const w = forms(s);
    const slots = s.words.flatMap((x, i) => {
      const key = keyOf(x);
      return i > 0 && (counts.get(key) ?? 0) >= 5 && bins.get(binOf(key))!.length > 1 ? [i] : [];
    });
    if (w.length < 4 || slots.length === 0) return [];
    if (r() < 0.5) return [{ text: detok(w), label: 'original' }];
    const i = slots[Math.floor(r() * slots.length)];
    const pool = bins.get(binOf(keyOf(s.words[i])))!.filter((x) => x !== w[i].toLowerCase());
    w[i] = pool[Math.floor(r() * pool.length)];
    return [{ text: detok(w), label: 'changed' }];
  });
}

/**
 * Word content: pick mid-frequency content words (ranks 100..100+nWords among NOUN/VERB/ADJ lemmas by
 * frequency in `vocabFrom`), keep sentences containing exactly one of them, label = that word.
 */
export function wordContentProbe(sents: UdSentence[], vocabFrom: UdSentence[], nWords = 30): SentenceExample[] {
  const counts = new Map<string, number>();
  for (const s of vocabFrom) for (const w of s.words) if (['NOUN', 'VERB', 'ADJ'].includes(w.upos)) counts.set(w.form.toLowerCase(), (counts.get(w.form.toLowerCase()) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(100, 100 + nWords).map(([w]) => w);
  const targets = new Set(ranked);
  return sents.flatMap((s) => {
    const hits = new Set(s.words.map((w) => w.form.toLowerCase()).filter((f) => targets.has(f)));
    return hits.size === 1 ? [{ text: detok(forms(s)), label: [...hits][0] }] : [];
  });
}
