/**
 * A task split as feature rows: token sequences, the token ranges each row pools, the row labels, and for
 * word-level tasks which sentence and word type each row came from (span F1 and control tasks need them).
 *   sentence / pair: one row per example, pooled over the sequence (mean), its first or its last token
 *   token:           one row per word, its first sub-token or the mean of its sub-tokens
 *   edge:            one row per edge, [span1 pooled ; span2 pooled]
 */
import type { TextTokenizer } from '../model/tokenizer.js';
import type { EdgeExample, Example, PairExample, SentenceExample, Task, TokenExample } from '../data/types.js';
import { alignWords, spaceMarksWords, specialTokenFrame } from './align.js';
import type { RowSpec } from './extract.js';

export type SentencePooling = 'mean' | 'first' | 'last';
export type WordPooling = 'first' | 'mean';

export interface TaskRows {
  seqs: number[][];
  rows: RowSpec[];
  labels: Int32Array;
  /** sentence index of each row (token/edge tasks) */
  rowSentence: Int32Array;
  /** lower-cased word form of each row (token tasks), for control tasks */
  rowWord: string[];
  /** number of words per sentence (token tasks), to rebuild tag sequences */
  sentenceLengths: number[];
  /** what did not fit the model's positions: sentences split into windows (token and edge tasks: every word,
   *  every edge whose two words fit in one window is still scored), sentences whose tokens were cut (sentence
   *  tasks: scored on the part that fits), edges wider than a window, words no window could hold */
  overflow: { windowed: number; truncated: number; droppedEdges: number; droppedWords: number };
}

export interface RowOptions {
  sentencePooling?: SentencePooling;
  wordPooling?: WordPooling;
  maxTokens?: number;
}

export function taskRows(task: Task, examples: Example[], tok: TextTokenizer, opts: RowOptions = {}): TaskRows {
  const maxTokens = opts.maxTokens ?? 256;
  const labelIndex = new Map(task.labels.map((l, i) => [l, i]));
  const lab = (l: string) => {
    const i = labelIndex.get(l);
    if (i === undefined) throw new Error(`label "${l}" is not in task ${task.name}'s label set`);
    return i;
  };
  const seqs: number[][] = [];
  const rows: RowSpec[] = [];
  const labels: number[] = [];
  const rowSentence: number[] = [];
  const rowWord: string[] = [];
  const sentenceLengths: number[] = [];
  const overflow = { windowed: 0, truncated: 0, droppedEdges: 0, droppedWords: 0 };
  const frame = specialTokenFrame(tok);
  const spaced = spaceMarksWords(tok);
  const pool = (len: number): [number, number] => {
    switch (opts.sentencePooling ?? 'mean') {
      case 'first':
        return [0, 1];
      case 'last':
        return [len - 1, len];
      default:
        return [0, len];
    }
  };
  examples.forEach((ex, si) => {
    if (task.kind === 'sentence' || task.kind === 'sentence-pair') {
      const e = ex as SentenceExample & Partial<PairExample>;
      let ids = task.kind === 'sentence-pair' && tok.kind === 'hf' ? tok.encode(e.text, { pair: e.textB }) : tok.encode(task.kind === 'sentence-pair' ? `${e.text} ${e.textB}` : e.text);
      if (ids.length > maxTokens) (ids = ids.slice(0, maxTokens)), overflow.truncated++;
      seqs.push(ids);
      rows.push({ seq: seqs.length - 1, ranges: [pool(ids.length)] });
      labels.push(lab(e.label));
      rowSentence.push(si);
      return;
    }
    const words = (ex as TokenExample | EdgeExample).words;
    if (task.kind === 'token') {
      // a sentence longer than the positions is split into windows of whole words, so every word (every
      // test unit) is scored; words near a window start see less left context than they would in one pass
      sentenceLengths.push(words.length);
      const labelsOf = (ex as TokenExample).labels;
      let start = 0;
      while (start < words.length) {
        const aligned = alignWords(tok, words.slice(start), frame, maxTokens, spaced);
        let fitted = 0;
        while (fitted < aligned.wordSpans.length && aligned.wordSpans[fitted][1] > aligned.wordSpans[fitted][0]) fitted++;
        if (fitted === 0) {
          overflow.droppedWords += words.length - start; // not even one word fits next to the special tokens
          break;
        }
        if (start === 0 && fitted < words.length) overflow.windowed++;
        seqs.push(aligned.ids);
        const seq = seqs.length - 1;
        for (let j = 0; j < fitted; j++) {
          const [s, e] = aligned.wordSpans[j];
          rows.push({ seq, ranges: [(opts.wordPooling ?? 'first') === 'first' ? [s, s + 1] : [s, e]] });
          labels.push(lab(labelsOf[start + j]));
          rowSentence.push(si);
          rowWord.push(words[start + j].toLowerCase());
        }
        start += fitted;
      }
      return;
    }
    // edges: the whole sentence if it fits; otherwise windows of whole words, each starting at the leftmost
    // word of an edge not yet placed, so every edge whose two words fit in one window is scored (an edge
    // wider than a window cannot be, and is counted)
    sentenceLengths.push(words.length);
    const edges = (ex as EdgeExample).edges;
    let pending = edges.map((_, i) => i);
    let start = 0;
    while (pending.length) {
      const aligned = alignWords(tok, start === 0 ? words : words.slice(start), frame, maxTokens, spaced);
      if (start === 0 && aligned.wordSpans.some((w) => w[1] <= w[0])) overflow.windowed++;
      const span = (from: number, to: number): [number, number] | undefined => {
        const a = aligned.wordSpans[from - start];
        const b = aligned.wordSpans[to - 1 - start];
        return from >= start && a && b && a[1] > a[0] && b[1] > b[0] ? [a[0], b[1]] : undefined;
      };
      const rest: number[] = [];
      let seq = -1;
      for (const i of pending) {
        const edge = edges[i];
        const a = span(edge.span1[0], edge.span1[1]);
        const b = span(edge.span2[0], edge.span2[1]);
        if (!a || !b) {
          rest.push(i);
          continue;
        }
        if (seq < 0) seq = seqs.push(aligned.ids) - 1;
        rows.push({ seq, ranges: [a, b] });
        labels.push(lab(edge.label));
        rowSentence.push(si);
        rowWord.push(`${words[edge.span1[0]].toLowerCase()}|${words[edge.span2[0]].toLowerCase()}`);
      }
      // no later window (all start further right) can hold an edge that starts at or before this one's start
      const leftmost = (i: number) => Math.min(edges[i].span1[0], edges[i].span2[0]);
      overflow.droppedEdges += rest.filter((i) => leftmost(i) <= start).length;
      pending = rest.filter((i) => leftmost(i) > start);
      if (pending.length) start = Math.min(...pending.map(leftmost));
    }
    if (edges.length === 0) seqs.push(alignWords(tok, words, frame, maxTokens, spaced).ids);
  });
  return { seqs, rows, labels: Int32Array.from(labels), rowSentence: Int32Array.from(rowSentence), rowWord, sentenceLengths, overflow };
}
