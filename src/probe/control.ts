/**
 * Control tasks (Hewitt & Liang 2019): every word type gets a random but fixed label, drawn from the
 * task's empirical label distribution. A probe that scores well on the control task is memorizing word
 * identity; selectivity = task score - control score tells how much of the score the representation earns.
 */
import { mulberry32 } from './random.js';

export function makeControlLabels(wordTypes: string[], labelDistribution: number[], seed: number): Int32Array {
  const total = labelDistribution.reduce((a, b) => a + b, 0);
  let acc = 0;
  const cdf = labelDistribution.map((p) => (acc += p / total));
  const byType = new Map<string, number>();
  const out = new Int32Array(wordTypes.length);
  wordTypes.forEach((w, i) => {
    let label = byType.get(w);
    if (label === undefined) {
      // the type's label depends only on the type and the seed, not on where it first appears
      let h = seed >>> 0;
      for (let j = 0; j < w.length; j++) h = Math.imul(h ^ w.charCodeAt(j), 0x01000193);
      const u = mulberry32(h)();
      label = cdf.findIndex((c) => u < c);
      if (label < 0) label = cdf.length - 1;
      byType.set(w, label);
    }
    out[i] = label;
  });
  return out;
}

export function labelDistribution(y: Int32Array, K: number): number[] {
  const counts = new Array<number>(K).fill(0);
  for (const v of y) counts[v]++;
  return counts;
}
