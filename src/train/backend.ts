/**
 * The one place that knows how a training graph is executed: a Tape's forward + backward graph becomes an
 * onnxruntime session that takes parameters and a batch and returns the loss, the gradients and any
 * extra outputs. Swapping the training engine means replacing this file.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, INT64 } from '../engine/graph.js';
import { defaultThreads } from '../util/threads.js';
import type { ParamSpec, Tape, V } from './autodiff.js';

export type Feed = Float32Array | BigInt64Array;

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
  extra: Map<string, { data: Float32Array; dims: number[] }>;
}

export interface CompileOptions {
  /** Also return d(loss)/d(params); false builds a forward-only (evaluation) session. */
  gradients?: boolean;
  /** Additional named outputs (e.g. logits, hidden states). */
  extra?: Record<string, V>;
  threads?: number;
}

export class CompiledStep {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly params: ParamSpec[],
    private readonly inputShapes: Map<string, readonly number[]>,
    private readonly gradNames: Map<string, string>,
    private readonly scatterNames: Map<string, { ids: string; rows: string; width: number }[]>,
    private readonly extraNames: string[],
  ) {}

  static async compile(tape: Tape, loss: V, inputs: V[], opts: CompileOptions = {}): Promise<CompiledStep> {
    const g = tape.g;
    g.output('loss', loss.name);
    const gradNames = new Map<string, string>();
    const scatterNames = new Map<string, { ids: string; rows: string; width: number }[]>();
    if (opts.gradients ?? true) {
      for (const [p, gname] of tape.gradients(loss)) {
        const out = `grad:${p}`;
        g.output(out, gname);
        gradNames.set(p, out);
      }
      for (const [p, list] of tape.scatters) {
        scatterNames.set(
          p,
          list.map((s, k) => {
            g.output(`scatter_ids:${p}:${k}`, s.ids, INT64);
            g.output(`scatter_rows:${p}:${k}`, s.rows);
            return { ids: `scatter_ids:${p}:${k}`, rows: `scatter_rows:${p}:${k}`, width: s.width };
          }),
        );
      }
    }
    const extraNames: string[] = [];
    for (const [name, v] of Object.entries(opts.extra ?? {})) {
      g.output(name, v.name, FLOAT, [...v.shape]);
      extraNames.push(name);
    }
    const session = await ort.InferenceSession.create(g.toBytes(), {
      intraOpNumThreads: opts.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const shapes = new Map<string, readonly number[]>(inputs.map((v) => [v.name, v.shape]));
    return new CompiledStep(session, tape.params, shapes, gradNames, scatterNames, extraNames);
  }

  async run(params: Map<string, Float32Array>, batch: Record<string, Feed>): Promise<StepResult> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of this.params) {
      const data = params.get(p.name);
      if (!data) throw new Error(`no value for parameter ${p.name}`);
      feeds[p.name] = new ort.Tensor('float32', data, p.shape);
    }
    for (const [name, data] of Object.entries(batch)) {
      const shape = this.inputShapes.get(name);
      if (!shape) throw new Error(`unexpected batch input ${name}`);
      feeds[name] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, [...shape]) : new ort.Tensor('float32', data, [...shape]);
    }
    const out = await this.session.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const [p, name] of this.gradNames) grads.set(p, out[name].data as Float32Array);
    // embedding rows: grad[ids[i]] += rows[i]
    for (const [p, list] of this.scatterNames) {
      const grad = grads.get(p)!;
      for (const s of list) {
        const ids = out[s.ids].data as BigInt64Array;
        const rows = out[s.rows].data as Float32Array;
        for (let i = 0; i < ids.length; i++) {
          const dst = Number(ids[i]) * s.width;
          const src = i * s.width;
          for (let c = 0; c < s.width; c++) grad[dst + c] += rows[src + c];
        }
      }
    }
    const extra = new Map<string, { data: Float32Array; dims: number[] }>();
    for (const name of this.extraNames) extra.set(name, { data: out[name].data as Float32Array, dims: [...out[name].dims] });
    return { loss: (out.loss.data as Float32Array)[0], grads, extra };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
