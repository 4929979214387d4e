/**
 * Feature extraction memory on a 100k-sentence task: every layer's features go to disk as they are
 * computed, so peak RSS must stay far below the size of all layers' features together. Runs in a child
 * process so its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/engine/load.js';
import { Engine } from '../../src/engine/engine.js';
import { peakRssMb } from '../../src/util/memory.js';
import { extractFeatures, type RowSpec } from '../../src/features/extract.js';
import { EMBEDDED_MODEL } from '../../src/cli/paths.js';

async function child(n: number): Promise<void> {
  const model = loadModel(EMBEDDED_MODEL);
  const engine = await Engine.create(model, { hiddenStates: 'all', logits: false, threads: 2 });
  // 100k token sequences of 8-40 tokens, varied deterministically
  const seqs = Array.from({ length: n }, (_, i) => Array.from({ length: 8 + (i % 33) }, (_, t) => 3 + ((i * 31 + t * 17) % 500)));
  const rows: RowSpec[] = seqs.map((s, i) => ({ seq: i, ranges: [[0, s.length]] }));
  const dir = mkdtempSync(join(tmpdir(), 'ps-mem-'));
  const t0 = performance.now();
  const set = await extractFeatures(engine, seqs, rows, { cacheDir: dir, label: 'mem', batchSize: 64 });
  const sec = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true });
  const allLayersMb = (set.rows * set.cols * set.layers * 4) / 2 ** 20;
  console.log(JSON.stringify({ sentences: n, layers: set.layers, seconds: sec, all_layers_features_mb: allLayersMb, peak_rss_mb: peakRssMb() }));
}

export function runMemoryBench(n = 100_000): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(n)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sentences: number; layers: number; seconds: number; all_layers_features_mb: number; peak_rss_mb: number };
  console.log(`## Feature extraction memory (stories260K, ${m.sentences.toLocaleString()} sentences, ${m.layers} representations, mean pooling)\n`);
  console.log(`all layers' features together: ${m.all_layers_features_mb.toFixed(0)} MB (f32); peak RSS of the extraction process: ${m.peak_rss_mb.toFixed(0)} MB; ${m.seconds.toFixed(1)} s\n`);
}

if (process.argv[2] === '--child') await child(Number(process.argv[3]));
else if (import.meta.url === `file://${process.argv[1]}`) runMemoryBench();
