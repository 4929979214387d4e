/**
 * Task data as probescale sees it. Four kinds, as in the probing literature:
 *   sentence       one text -> one label (SST-2, CoLA, TREC, SentEval-style probes)
 *   sentence-pair  two texts -> one label (MRPC, RTE)
 *   token          words -> one label per word (UPOS, XPOS, NER and chunking tags)
 *   edge           words + pairs of word spans -> one label per pair (dependency relations)
 */
export type TaskKind = 'sentence' | 'sentence-pair' | 'token' | 'edge';
export type Metric = 'accuracy' | 'macro-f1' | 'mcc' | 'span-f1' | 'f1';

export interface SentenceExample {
  text: string;
  label: string;
}
export interface PairExample {
  text: string;
  textB: string;
  label: string;
}
export interface TokenExample {
  words: string[];
  labels: string[];
}
export interface Edge {
  /** word index ranges [start, endExclusive) */
  span1: [number, number];
  span2: [number, number];
  label: string;
}
export interface EdgeExample {
  words: string[];
  edges: Edge[];
}
export type Example = SentenceExample | PairExample | TokenExample | EdgeExample;

export interface TaskSplits {
  train: Example[];
  dev: Example[];
  test: Example[];
}

export interface Task {
  name: string;
  kind: TaskKind;
  labels: string[];
  metric: Metric;
  splits: TaskSplits;
  /** How the task was built, including any split we carved ourselves. */
  description: string;
  /** Where the data comes from (dataset + license note). */
  source: string;
}
