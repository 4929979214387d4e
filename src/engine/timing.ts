import type { Batch, Engine } from './engine.js';

/** Wall times of `repeats` forward passes after one warm-up run, sorted ascending (ms). */
export async function runTimesMs(engine: Engine, batch: Batch, repeats: number): Promise<number[]> {
  await engine.run(batch);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await engine.run(batch);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

/** Wall time of one forward pass: one warm-up run, then the median of `repeats` timed runs (ms). */
export async function medianRunMs(engine: Engine, batch: Batch, repeats: number): Promise<number> {
  const times = await runTimesMs(engine, batch, repeats);
  return times[Math.floor(times.length / 2)];
}
