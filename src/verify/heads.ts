/**
 * Verification of a written model by loading it back: its own tokenizer and layers produce the features,
 * the stored task heads (head.safetensors tensors) classify them, and each task's test score is compared
 * with the full model's final and best layer.
 */
import { join } from 'node:path';
import { loadModel } from '../engine/load.js';
import type { Task } from '../data/types.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { Engine } from '../engine/engine.js';
import { splitFeatures, type SuiteOptions, type TaskResult } from '../probe/suite.js';
import { makeScorer } from '../probe/scoring.js';
import { summarizeLayers } from '../probe/layers.js';
import { gainDegenerate, taskGain, type SplitReference } from '../select/retention.js';

export interface VerifiedTask {
  /** test score of the written model with its stored head */
  score: number;
  /** the same probe type on the full model's final representation, and the full model's best probed layer */
  fullFinal: number;
  fullBest: number;
  retentionVsFinal: number;
  retentionVsBest: number;
  /** the subnetwork with no layers, and (score - embeddings) / (final - embeddings) */
  embeddings: number;
  gainVsFinal?: number;
  /** why gain is not a number for this task */
  gainUndefined?: string;
}

/** Score the written model in `dir` with its stored heads on each task's test split, against the test
 * references (final layer, embeddings) of the full model. */
export async function verifyWritten(dir: string, tasks: Task[], reference: Record<string, SplitReference>, probes: TaskResult[], suite: SuiteOptions, heads: Record<string, TensorToWrite>, onTask?: () => void): Promise<Record<string, VerifiedTask>> {
  const written = loadModel(dir);
  const tok = await written.tokenizer();
  const engine = await Engine.create(written, { hiddenStates: 'last', logits: false, threads: suite.threads, precision: suite.precision });
  const out: Record<string, VerifiedTask> = {};
  for (const t of tasks) {
    const te = await splitFeatures(engine, tok, t, 'test', { ...suite, cacheDir: join(suite.cacheDir, 'verify') });
    const X = te.features.load(0);
    const W = heads[`head.${t.name}.weight`].data as Float32Array;
    const b = heads[`head.${t.name}.bias`].data as Float32Array;
    const K = t.labels.length;
    const pred = new Int32Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = b[k];
        for (let c = 0; c < X.cols; c++) s += X.data[r * X.cols + c] * W[c * K + k];
        if (s > best) (best = s), (pred[r] = k);
      }
    }
    const score = makeScorer(t, te.rows).score(pred);
    const p = probes.find((x) => x.task === t.name)!;
    // the full model's best layer chosen on dev, scored on test (the test argmax would be the luckiest of L+1 estimates)
    const fullBest = summarizeLayers(p.layers).bestScore;
    const ref = reference[t.name];
    out[t.name] = {
      score, fullFinal: ref.final, fullBest, retentionVsFinal: score / ref.final, retentionVsBest: score / fullBest,
      embeddings: ref.embeddings, gainVsFinal: taskGain(score, ref), gainUndefined: gainDegenerate(ref),
    };
    onTask?.();
  }
  await engine.release();
  return out;
}
