/** Seeded parameter initialisation (normal via Box-Muller over mulberry32), as GPT-2 / BERT do it. */
import { mulberry32 } from '../util/random.js';

export class Initializer {
  private rand: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = Math.max(this.rand(), 1e-12);
    const v = this.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  normalArray(n: number, std: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * std;
    return a;
  }
}

/** Weights: N(0, std); biases: 0; norm weights: 1 (decided from the canonical name). */
export function initParam(init: Initializer, name: string, size: number, std: number): Float32Array {
  if (/(ln_|LayerNorm|layer_norm|layernorm|(^|\.)norm\.weight$)/.test(name) && name.endsWith('.weight')) return new Float32Array(size).fill(1);
  if (name.endsWith('.bias')) return new Float32Array(size);
  return init.normalArray(size, std);
}
