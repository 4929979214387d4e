/**
 * onnxruntime sessions for probe fitting, shared by every fit of the same shapes: a task's layers all give
 * train, dev and test matrices of one size, so the objective, scoring and statistics graphs are built once
 * per task instead of once per layer. Per layer at hidden 768 (33k UPOS tokens) the four sessions a fit made
 * cost ~0.15 s to create and their first runs ~0.15 s more (arena growth, measured), ~15% of the layer's fit.
 * Graphs take all data (features, labels, whitening, standardization) as run inputs, so a session holds no
 * layer's numbers; the pool also lends scratch arrays (see scratch()). The owner releases
 * the pool; a fit without one makes a private pool and releases it.
 */
import * as ort from 'onnxruntime-node';
import { defaultThreads } from '../util/threads.js';

export class ProbeSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(readonly threads = defaultThreads()) {}

  /** The session for `key`, built from `graph()` (ONNX model bytes) the first time the key is asked for. */
  get(key: string, graph: () => Uint8Array): Promise<ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      // no spin-waiting: each live session has its own thread pool, and pooled sessions that spin after their runs
      // take cores from the one running next (sst2 fits at hidden 768: 370 ms with spinning, 265 ms without;
      // large fits about level)
      s = ort.InferenceSession.create(graph(), { intraOpNumThreads: this.threads, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
      this.sessions.set(key, s);
    }
    return s;
  }

  private readonly buffers = new Map<string, Float32Array>();

  /** A float32 array of `length` for `key` (a role, such as "the objective's transposed features"): a view of
   * one buffer per key, grown when a longer one is asked for. A task's layers, and the growing blocks of an MDL
   * code, refill it instead of allocating their own (fresh multi-megabyte arrays cost first-touch page faults,
   * ~0.3 s per 100 MB on this VM). Its contents belong to the last caller, so fits sharing a pool must run one
   * after another (as a task's layers do). */
  scratch(key: string, length: number): Float32Array {
    let b = this.buffers.get(key);
    if (!b || b.length < length) this.buffers.set(key, (b = new Float32Array(length)));
    return b.length === length ? b : b.subarray(0, length);
  }

  async release(): Promise<void> {
    this.buffers.clear();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    // a session whose creation failed has already reported it to the fit that asked for it
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}
