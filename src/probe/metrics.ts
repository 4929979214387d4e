/** Task metrics over class indices (and typed spans for span F1), following scikit-learn / conlleval. */
export type MetricName = 'accuracy' | 'macro-f1' | 'f1' | 'mcc';

export function confusion(yTrue: Int32Array, yPred: Int32Array, K: number): Float64Array {
  const m = new Float64Array(K * K);
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i] * K + yPred[i]]++;
  return m;
}

export function accuracyScore(yTrue: Int32Array, yPred: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return yTrue.length ? ok / yTrue.length : 0;
}

function f1For(m: Float64Array, K: number, k: number): number {
  let tp = m[k * K + k];
  let fp = 0;
  let fn = 0;
  for (let j = 0; j < K; j++) {
    if (j === k) continue;
    fp += m[j * K + k];
    fn += m[k * K + j];
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Unweighted mean of per-class F1 over classes present in yTrue or yPred (sklearn's labels=None). */
export function macroF1(yTrue: Int32Array, yPred: Int32Array, K: number): number {
  return macroF1FromConfusion(confusion(yTrue, yPred, K), K);
}

function macroF1FromConfusion(m: Float64Array, K: number): number {
  let s = 0;
  let present = 0;
  for (let k = 0; k < K; k++) {
    let seen = 0;
    for (let j = 0; j < K; j++) seen += m[k * K + j] + m[j * K + k];
    if (seen === 0) continue;
    present++;
    s += f1For(m, K, k);
  }
  return present ? s / present : 0;
}

/** F1 of the positive class (index `positive`, default 1). */
export function binaryF1(yTrue: Int32Array, yPred: Int32Array, positive = 1): number {
  const K = Math.max(positive + 1, ...yTrue, ...yPred) + 1;
  return f1For(confusion(yTrue, yPred, K), K, positive);
}

/** Matthews correlation, multiclass (Gorodkin 2004), as sklearn.metrics.matthews_corrcoef. */
export function mcc(yTrue: Int32Array, yPred: Int32Array, K: number): number {
  return mccFromConfusion(confusion(yTrue, yPred, K), K);
}

function mccFromConfusion(m: Float64Array, K: number): number {
  const t = new Float64Array(K);
  const p = new Float64Array(K);
  let c = 0;
  let s = 0;
  for (let i = 0; i < K; i++) {
    c += m[i * K + i];
    for (let j = 0; j < K; j++) {
      t[i] += m[i * K + j];
      p[j] += m[i * K + j];
      s += m[i * K + j];
    }
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let k = 0; k < K; k++) {
    tp += t[k] * p[k];
    pp += p[k] * p[k];
    tt += t[k] * t[k];
  }
  const den = Math.sqrt((s * s - pp) * (s * s - tt));
  return den === 0 ? 0 : (c * s - tp) / den;
}

export function scoreMetric(metric: MetricName, yTrue: Int32Array, yPred: Int32Array, K: number): number {
  return metric === 'accuracy' ? accuracyScore(yTrue, yPred) : scoreConfusion(metric, confusion(yTrue, yPred, K), K);
}

/** A metric from a K x K confusion matrix (rows: true class, columns: predicted), e.g. summed over units. */
export function scoreConfusion(metric: MetricName, m: Float64Array, K: number): number {
  switch (metric) {
    case 'accuracy': {
      let c = 0;
      let s = 0;
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) (s += m[i * K + j]), (c += i === j ? m[i * K + j] : 0);
      return s ? c / s : 0;
    }
    case 'macro-f1':
      return macroF1FromConfusion(m, K);
    case 'f1':
      return K > 1 ? f1For(m, K, 1) : 0;
    case 'mcc':
      return mccFromConfusion(m, K);
  }
}

export interface TypedSpan {
  type: string;
  start: number;
  end: number;
}

/** Exact-match span precision / recall / F1 over sentences (conlleval). */
export function spanF1(gold: TypedSpan[][], pred: TypedSpan[][]): { precision: number; recall: number; f1: number } {
  let tp = 0;
  let nGold = 0;
  let nPred = 0;
  gold.forEach((g, i) => {
    const key = (s: TypedSpan) => `${s.type}:${s.start}:${s.end}`;
    const gs = new Set(g.map(key));
    nGold += g.length;
    nPred += pred[i].length;
    for (const s of pred[i]) if (gs.has(key(s))) tp++;
  });
  const precision = nPred ? tp / nPred : 0;
  const recall = nGold ? tp / nGold : 0;
  return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 };
}
