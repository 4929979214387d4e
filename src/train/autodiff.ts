/**
 * Reverse-mode autodiff that writes ONNX: a model is described once with the ops below (static shapes),
 * each op emits its forward ONNX nodes and remembers a backward rule; `gradients(loss)` then appends the
 * backward pass to the same graph. onnxruntime runs forward + backward as one session, so training uses
 * the same MLAS kernels as inference (no JS matrix loops, no second framework).
 *
 * Shapes are static (fixed batch and sequence length per compiled graph), which keeps broadcasting
 * gradients simple: reduce over the broadcast axes, reshape to the operand's shape.
 */
import { FLOAT, GraphBuilder, INT64 } from '../engine/graph.js';

/** A value in the graph: its ONNX name, static shape, and whether gradients flow to it. */
export interface V {
  readonly name: string;
  readonly shape: readonly number[];
  readonly grad: boolean;
}

/** Given the output gradient's name, emit the input gradients (null where an input needs none). */
type Backward = (gy: string) => (string | null)[];

interface TapeNode {
  out: V;
  inputs: V[];
  backward: Backward;
}

/** Rows of a gathered table's gradient: `rows` [N, width] (graph value) to add at int64 `ids` [N]. */
export interface ScatterGrad {
  ids: string;
  rows: string;
  width: number;
}

export interface ParamSpec {
  name: string;
  shape: number[];
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(Math.max(da, db));
  }
  return out;
}

export class Tape {
  readonly g: GraphBuilder;
  readonly params: ParamSpec[] = [];
  private nodes: TapeNode[] = [];
  /** Embedding gradients to scatter-add outside the graph, per parameter (filled by gradients()). */
  readonly scatters = new Map<string, ScatterGrad[]>();

  constructor(name: string) {
    this.g = new GraphBuilder(name);
  }

  /** A trainable tensor, fed as a graph input each step (the optimizer owns the values). */
  param(name: string, shape: number[]): V {
    this.params.push({ name, shape });
    this.g.input(name, FLOAT, shape);
    return { name, shape, grad: true };
  }

  input(name: string, shape: number[], type: 'float' | 'int64' = 'float'): V {
    this.g.input(name, type === 'float' ? FLOAT : INT64, shape);
    return { name, shape, grad: false };
  }

  private constants = 0;

  /** A fixed float tensor baked into the graph (masks, RoPE tables). */
  constant(values: Float32Array, shape: number[]): V {
    return { name: this.g.weight(`const_${this.constants++}`, values, shape), shape, grad: false };
  }

  scalar(x: number): V {
    return { name: this.g.constF(x), shape: [], grad: false };
  }

  private record(out: string, shape: number[], inputs: V[], backward: Backward): V {
    const v: V = { name: out, shape, grad: inputs.some((i) => i.grad) };
    if (v.grad) this.nodes.push({ out: v, inputs, backward });
    return v;
  }

  // ---- shape helpers used by backward rules ----

  /** Sum a broadcast gradient back down to `shape`. */
  private sumTo(gy: string, from: readonly number[], to: readonly number[]): string {
    if (from.length === to.length && from.every((d, i) => d === to[i])) return gy;
    const lead = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
    const s = axes.length ? this.g.op('ReduceSum', [gy, this.g.constI64(axes)], { keepdims: 1 }) : gy;
    return this.g.op('Reshape', [s, this.g.constI64(to.length ? [...to] : [])]);
  }

  private expandTo(gy: string, shape: readonly number[]): string {
    return this.g.op('Expand', [gy, this.g.constI64([...shape])]);
  }

  // ---- elementwise ----

  add(a: V, b: V): V {
    const shape = broadcastShape(a.shape, b.shape);
    return this.record(this.g.op('Add', [a.name, b.name]), shape, [a, b], (gy) => [
      a.grad ? this.sumTo(gy, shape, a.shape) : null,
      b.grad ? this.sumTo(gy, shape, b.shape) : null,
    ]);
  }

  sub(a: V, b: V): V {
    const shape = broadcastShape(a.shape, b.shape);
    return this.record(this.g.op('Sub', [a.name, b.name]), shape, [a, b], (gy) => [
      a.grad ? this.sumTo(gy, shape, a.shape) : null,
      b.grad ? this.sumTo(this.g.op('Neg', [gy]), shape, b.shape) : null,
    ]);
  }

  mul(a: V, b: V): V {
    const shape = broadcastShape(a.shape, b.shape);
    return this.record(this.g.op('Mul', [a.name, b.name]), shape, [a, b], (gy) => [
      a.grad ? this.sumTo(this.g.op('Mul', [gy, b.name]), shape, a.shape) : null,
      b.grad ? this.sumTo(this.g.op('Mul', [gy, a.name]), shape, b.shape) : null,
    ]);
  }

  scale(a: V, s: number): V {
    const c = this.g.constF(s);
    return this.record(this.g.op('Mul', [a.name, c]), [...a.shape], [a], (gy) => [this.g.op('Mul', [gy, c])]);
  }

  relu(x: V): V {
    const y = this.g.op('Relu', [x.name]);
    return this.record(y, [...x.shape], [x], (gy) => {
      const on = this.g.op('Cast', [this.g.op('Greater', [x.name, this.g.constF(0)])], { to: FLOAT });
      return [this.g.op('Mul', [gy, on])];
    });
  }

  /** Exact (erf) GELU; d/dx = Phi(x) + x phi(x). */
  gelu(x: V): V {
    const y = this.g.op('Gelu', [x.name], { approximate: 'none' });
    return this.record(y, [...x.shape], [x], (gy) => {
      const g = this.g;
      const cdf = g.op('Mul', [g.op('Add', [g.op('Erf', [g.op('Mul', [x.name, g.constF(Math.SQRT1_2)])]), g.constF(1)]), g.constF(0.5)]);
      const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [x.name, x.name]), g.constF(-0.5)])]), g.constF(1 / Math.sqrt(2 * Math.PI))]);
      return [g.op('Mul', [gy, g.op('Add', [cdf, g.op('Mul', [x.name, pdf])])])];
    });
  }

  // ---- shape ops ----

  reshape(x: V, shape: number[]): V {
    if (numel(shape) !== numel(x.shape)) throw new Error(`reshape [${x.shape}] -> [${shape}] changes the size`);
    const y = this.g.op('Reshape', [x.name, this.g.constI64(shape)]);
    return this.record(y, shape, [x], (gy) => [this.g.op('Reshape', [gy, this.g.constI64([...x.shape])])]);
  }

  transpose(x: V, perm: number[]): V {
    const inv = perm.map((_, i) => perm.indexOf(i));
    const y = this.g.op('Transpose', [x.name], { perm });
    return this.record(y, perm.map((p) => x.shape[p]), [x], (gy) => [this.g.op('Transpose', [gy], { perm: inv })]);
  }

  /** Split the last axis into equal parts (e.g. GPT-2's packed q|k|v); the gradient concatenates. */
  split(x: V, parts: number): V[] {
    const last = x.shape[x.shape.length - 1];
    const size = last / parts;
    const outs = this.g.opN('Split', [x.name, this.g.constI64(Array(parts).fill(size))], parts, { axis: -1 });
    const shape = [...x.shape.slice(0, -1), size];
    const vs: V[] = outs.map((o) => ({ name: o, shape, grad: x.grad }));
    if (!x.grad) return vs;
    // One node per part: each part's gradient is placed into a zero-padded slot, so parts without a
    // gradient simply contribute nothing.
    vs.forEach((v, p) => {
      this.nodes.push({
        out: v,
        inputs: [x],
        backward: (gy) => {
          const padBefore = p * size;
          const padAfter = last - padBefore - size;
          const pads = [...Array(x.shape.length - 1).fill(0), padBefore, ...Array(x.shape.length - 1).fill(0), padAfter];
          return [this.g.op('Pad', [gy, this.g.constI64(pads)])];
        },
      });
    });
    return vs;
  }

  // ---- linear algebra ----

  /** a [..., m, k] @ b: b is a weight [k, n] (shared over leading axes) or a batch [..., k, n] of a's rank. */
  matmul(a: V, b: V): V {
    const g = this.g;
    const k = a.shape[a.shape.length - 1];
    if (b.shape.length === 2) {
      if (b.shape[0] !== k) throw new Error(`matmul [${a.shape}] @ [${b.shape}]`);
      const n = b.shape[1];
      const shape = [...a.shape.slice(0, -1), n];
      return this.record(g.op('MatMul', [a.name, b.name]), shape, [a, b], (gy) => {
        const rows = numel(a.shape) / k;
        const gy2 = g.op('Reshape', [gy, g.constI64([rows, n])]);
        const ga = a.grad ? g.op('Reshape', [g.op('Gemm', [gy2, b.name], { transB: 1 }), g.constI64([...a.shape])]) : null;
        const gb = b.grad ? g.op('Gemm', [g.op('Reshape', [a.name, g.constI64([rows, k])]), gy2], { transA: 1 }) : null;
        return [ga, gb];
      });
    }
    if (b.shape.length !== a.shape.length) throw new Error(`matmul ranks ${a.shape.length} and ${b.shape.length}`);
    const r = a.shape.length;
    const shape = [...a.shape.slice(0, -1), b.shape[r - 1]];
    const perm = [...Array(r - 2).keys(), r - 1, r - 2];
    return this.record(g.op('MatMul', [a.name, b.name]), shape, [a, b], (gy) => [
      a.grad ? g.op('MatMul', [gy, g.op('Transpose', [b.name], { perm })]) : null,
      b.grad ? g.op('MatMul', [g.op('Transpose', [a.name], { perm }), gy]) : null,
    ]);
  }

  /** x @ W^T for a weight stored as nn.Linear does, [out, in] (BERT/RoBERTa/Llama names keep that layout). */
  linearT(x: V, w: V): V {
    const g = this.g;
    const [out, inp] = w.shape;
    const shape = [...x.shape.slice(0, -1), out];
    const rows = numel(x.shape) / inp;
    const x2 = g.op('Reshape', [x.name, g.constI64([rows, inp])]);
    const y = g.op('Reshape', [g.op('Gemm', [x2, w.name], { transB: 1 }), g.constI64(shape)]);
    return this.record(y, shape, [x, w], (gy) => {
      const gy2 = g.op('Reshape', [gy, g.constI64([rows, out])]);
      return [
        x.grad ? g.op('Reshape', [g.op('MatMul', [gy2, w.name]), g.constI64([...x.shape])]) : null,
        w.grad ? g.op('Gemm', [gy2, x2], { transA: 1 }) : null,
      ];
    });
  }

  // ---- normalisation, softmax, lookup, loss ----

  /** LayerNorm over the last axis; backward: dx = r * (gh - mean(gh) - h * mean(gh * h)), gh = gy * w. */
  layerNorm(x: V, w: V, b: V, eps: number): V {
    const g = this.g;
    const [y, mean, invStd] = g.opN('LayerNormalization', [x.name, w.name, b.name], 3, { axis: -1, epsilon: { float: eps } }, 'ln');
    return this.record(y, [...x.shape], [x, w, b], (gy) => {
      const lead = [...Array(x.shape.length - 1).keys()];
      const h = g.op('Mul', [g.op('Sub', [x.name, mean]), invStd]);
      const gh = g.op('Mul', [gy, w.name]);
      const m1 = g.op('ReduceMean', [gh, g.constI64([-1])], { keepdims: 1 });
      const m2 = g.op('ReduceMean', [g.op('Mul', [gh, h]), g.constI64([-1])], { keepdims: 1 });
      const gx = g.op('Mul', [g.op('Sub', [g.op('Sub', [gh, m1]), g.op('Mul', [h, m2])]), invStd]);
      const gw = g.op('ReduceSum', [g.op('Mul', [gy, h]), g.constI64(lead)], { keepdims: 0 });
      const gb = g.op('ReduceSum', [gy, g.constI64(lead)], { keepdims: 0 });
      return [x.grad ? gx : null, w.grad ? gw : null, b.grad ? gb : null];
    });
  }

  /** RMSNorm over the last axis (Llama, T5): y = x r w, r = (mean(x^2) + eps)^-1/2; dx = r gh - x r^3 mean(gh x). */
  rmsNorm(x: V, w: V, eps: number): V {
    const g = this.g;
    const ms = g.op('ReduceMean', [g.op('Mul', [x.name, x.name]), g.constI64([-1])], { keepdims: 1 });
    const r = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.constF(eps)])])]);
    const h = g.op('Mul', [x.name, r]);
    const y = g.op('Mul', [h, w.name]);
    return this.record(y, [...x.shape], [x, w], (gy) => {
      const lead = [...Array(x.shape.length - 1).keys()];
      const gh = g.op('Mul', [gy, w.name]);
      const m = g.op('ReduceMean', [g.op('Mul', [gh, x.name]), g.constI64([-1])], { keepdims: 1 });
      const gx = g.op('Sub', [g.op('Mul', [gh, r]), g.op('Mul', [h, g.op('Mul', [m, g.op('Mul', [r, r])])])]);
      const gw = g.op('ReduceSum', [g.op('Mul', [gy, h]), g.constI64(lead)], { keepdims: 0 });
      return [x.grad ? gx : null, w.grad ? gw : null];
    });
  }

  /** SiLU x sigmoid(x); d/dx = s (1 + x (1 - s)). */
  silu(x: V): V {
    const g = this.g;
    const sig = g.op('Sigmoid', [x.name]);
    return this.record(g.op('Mul', [x.name, sig]), [...x.shape], [x], (gy) => {
      const d = g.op('Mul', [sig, g.op('Add', [g.constF(1), g.op('Mul', [x.name, g.op('Sub', [g.constF(1), sig])])])]);
      return [g.op('Mul', [gy, d])];
    });
  }

  /** Grouped-query attention: [B, Hkv, T, D] -> [B, Hkv * rep, T, D], each head repeated rep times in place. */
  repeatHeads(x: V, rep: number): V {
    if (rep === 1) return x;
    const g = this.g;
    const [B, H, T, D] = x.shape;
    const e = g.op('Expand', [g.op('Unsqueeze', [x.name, g.constI64([2])]), g.constI64([B, H, rep, T, D])]);
    const y = g.op('Reshape', [e, g.constI64([B, H * rep, T, D])]);
    return this.record(y, [B, H * rep, T, D], [x], (gy) => {
      const r = g.op('Reshape', [gy, g.constI64([B, H, rep, T, D])]);
      return [g.op('ReduceSum', [r, g.constI64([2])], { keepdims: 0 })];
    });
  }

  softmax(x: V): V {
    const g = this.g;
    const y = g.op('Softmax', [x.name], { axis: -1 });
    return this.record(y, [...x.shape], [x], (gy) => {
      const dot = g.op('ReduceSum', [g.op('Mul', [gy, y]), g.constI64([-1])], { keepdims: 1 });
      return [g.op('Mul', [y, g.op('Sub', [gy, dot])])];
    });
  }

  /**
   * Rows of a parameter `table` [V, C] picked by int64 `ids`. The gradient is a scatter-add of the output
   * gradient rows; onnxruntime's multi-threaded ScatterND(reduction=add) races on repeated ids, so the
   * rows leave the graph and the backend adds them on the JS side (N x C additions, deterministic).
   */
  gather(table: V, ids: V): V {
    if (!this.params.some((p) => p.name === table.name)) throw new Error(`gather needs a parameter table, got ${table.name}`);
    const C = table.shape[1];
    const shape = [...ids.shape, C];
    const out: V = { name: this.g.op('Gather', [table.name, ids.name]), shape, grad: true };
    this.nodes.push({
      out,
      inputs: [],
      backward: (gy) => {
        const list = this.scatters.get(table.name) ?? [];
        list.push({ ids: ids.name, rows: gy, width: C });
        this.scatters.set(table.name, list);
        return [];
      },
    });
    return out;
  }

  /**
   * Weighted mean cross-entropy: logits [N, K], targets int64 [N], weights float [N] (0 drops a row:
   * padding, unmasked MLM positions). Returns a scalar; d/dlogits = (softmax - onehot) * w / sum(w).
   */
  crossEntropy(logits: V, targets: V, weights: V): V {
    const g = this.g;
    const [N, K] = logits.shape;
    const logp = g.op('LogSoftmax', [logits.name], { axis: -1 });
    const tcol = g.op('Unsqueeze', [targets.name, g.constI64([1])]);
    const picked = g.op('Reshape', [g.op('GatherElements', [logp, tcol], { axis: 1 }), g.constI64([N])]);
    const total = g.op('Max', [g.op('ReduceSum', [weights.name, g.constI64([0])], { keepdims: 0 }), g.constF(1e-9)]);
    const nll = g.op('Div', [g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [picked, weights.name]), g.constI64([0])], { keepdims: 0 })]), total]);
    return this.record(nll, [], [logits], (gy) => {
      const onehot = g.op('OneHot', [targets.name, g.constI64([K]), g.constF([0, 1])], { axis: -1 });
      const w = g.op('Unsqueeze', [g.op('Div', [weights.name, total]), g.constI64([1])]);
      const d = g.op('Mul', [g.op('Sub', [g.op('Exp', [logp]), onehot]), w]);
      return [g.op('Mul', [d, gy])];
    });
  }

  // ---- backward ----

  /**
   * Append d(loss)/d(param) for every parameter; returns graph value names keyed by parameter name.
   * Parameters the loss does not depend on get an explicit zero gradient; gathered tables also have
   * row contributions in `scatters`.
   */
  gradients(loss: V): Map<string, string> {
    if (loss.shape.length !== 0) throw new Error('gradients() needs a scalar loss');
    const g = this.g;
    const acc = new Map<string, string[]>();
    acc.set(loss.name, [g.constF(1)]);
    const total = (name: string): string | undefined => {
      const parts = acc.get(name);
      if (!parts?.length) return undefined;
      const sum = parts.length === 1 ? parts[0] : g.op('Sum', parts);
      acc.set(name, [sum]);
      return sum;
    };
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      const gy = total(node.out.name);
      if (!gy) continue;
      const grads = node.backward(gy);
      node.inputs.forEach((inp, j) => {
        const gi = grads[j];
        if (!inp.grad || !gi) return;
        const list = acc.get(inp.name) ?? [];
        list.push(gi);
        acc.set(inp.name, list);
      });
    }
    const out = new Map<string, string>();
    for (const p of this.params) {
      const gsum = total(p.name);
      out.set(p.name, gsum ?? g.op('ConstantOfShape', [g.constI64(p.shape)], { value: { tensor: { dataType: FLOAT, dims: [1], floatData: [0] } } }));
    }
    return out;
  }
}

export { numel };
