/**
 * The probescale library: `import { loadModel, probe, select, compress, verify, run } from 'probescale'`. The CLI is a thin
 * layer over the same calls. Compiled to dist/ by `npm run build` (run on `npm pack`), so a consumer needs no
 * TypeScript loader.
 */
export { type LoadedModel } from './model/checkpoint.js';
export { loadModel } from './engine/load.js';
export { Engine, type EngineOptions, type Batch } from './engine/engine.js';
export { runPipeline as run, type PipelineOptions as RunOptions } from './pipeline/run.js';
export { runProbe as probe, type ProbeOptions } from './pipeline/probe.js';
export { select, type SelectOptions, type Selection } from './pipeline/select.js';
export { probeTask, type TaskResult, type LayerResult, type SuiteOptions } from './probe/suite.js';
export { curvePoints, smallestFeasible } from './pipeline/curve.js';
export { predictBudget as predict, type Prediction } from './scaling/predict.js';
export { fitRetention, predictRetention, budgetForRetention, type RetentionFit } from './scaling/retention.js';
export { BASELINES, RANDOM_BASELINE, type BaselineDef, type BaselineContext } from './select/registry.js';
export { weightedRetention, taskGain, gainDegenerate, type RetentionMode, type SplitReference } from './select/retention.js';
// compress = write a layer subset as a model folder (checkpoint, ONNX, tokenizer, optional heads); verify = load it back and score its heads
export { materialize, materialize as compress, type MaterializeOptions, type MaterializeResult } from './compress/materialize.js';
export { verifyWritten, verifyWritten as verify, type VerifiedTask } from './verify/heads.js';
export { measureModel, type Measurement } from './verify/measure.js';
export { resolveTasks } from './data/resolve.js';
export { listTasks, loadTask } from './data/builtin.js';
export type { Task } from './data/types.js';
export { renderReport } from './report/html.js';
export type { RunResults, BudgetResult, MethodResult, TaskReferences, Scaling, CompressedResult } from './report/results.js';
export { ProbescaleError } from './util/errors.js';
export { setProgressMode } from './util/progress.js';
