/** Plots as inline SVG: Vega-Lite specs compiled and rendered headless by Vega (no network, no canvas). */
import * as vega from 'vega';
import * as vl from 'vega-lite';

export async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

export interface CurvePoint {
  task: string;
  layer: number;
  score: number;
  lo: number;
  hi: number;
}

/**
 * Probe score per hidden state, one line per task, with the 95% CI as a band; x = hidden state i (0 = the
 * embeddings, i = output of block i - 1). `kept` blocks are marked by a dashed rule at the state they
 * produce (block b -> state b + 1), so the plot and the tables' block numbers line up.
 */
export function probeCurves(points: CurvePoint[], kept: number[] = []): vl.TopLevelSpec {
  const x = { field: 'layer', type: 'quantitative' as const, title: 'hidden state (0 = embeddings, i = output of block i-1)', axis: { tickMinStep: 1 } };
  return {
    width: 420,
    height: 240,
    layer: [
      { data: { values: points }, mark: { type: 'area', opacity: 0.2 }, encoding: { x, color: { field: 'task', type: 'nominal' }, y: { field: 'lo', type: 'quantitative', title: 'test score', scale: { zero: false } }, y2: { field: 'hi' } } },
      { data: { values: points }, mark: { type: 'line', point: true }, encoding: { x, color: { field: 'task', type: 'nominal' }, y: { field: 'score', type: 'quantitative' } } },
      ...(kept.length
        ? [
            { data: { values: kept.map((b) => ({ layer: b + 1, label: `kept block ${b}` })) }, mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#555' }, encoding: { x } },
            { data: { values: kept.map((b) => ({ layer: b + 1, label: `block ${b}` })) }, mark: { type: 'text' as const, align: 'left' as const, dx: 3, dy: -110, fontSize: 9, color: '#555' }, encoding: { x, text: { field: 'label' } } },
          ]
        : []),
    ],
  };
}

export interface MethodPoint {
  budget: string;
  method: string;
  retention: number;
  lo?: number;
  hi?: number;
  ours: boolean;
}

/**
 * Every method's test retention per budget, one row per method and a panel per budget, with its 95% CI:
 * at equal size many baselines pick the same subset, and on a retention-vs-parameters plot they hide under
 * one dot.
 */
export function methodsPlot(points: MethodPoint[], title: string): vl.TopLevelSpec {
  return {
    data: { values: points },
    facet: { row: { field: 'budget', type: 'nominal', title: 'budget' } },
    spec: {
      width: 380,
      height: { step: 14 },
      layer: [
        { mark: { type: 'rule' }, encoding: { y: { field: 'method', type: 'nominal', title: null, sort: null }, x: { field: 'lo', type: 'quantitative', title, scale: { zero: false }, axis: { format: '%' } }, x2: { field: 'hi' } } },
        { mark: { type: 'point', filled: true, size: 50 }, encoding: { y: { field: 'method', type: 'nominal', sort: null }, x: { field: 'retention', type: 'quantitative' }, color: { condition: { test: 'datum.ours', value: '#d62728' }, value: '#1f77b4' } } },
      ],
    },
  };
}

/** Fitted retention curve (line) over the measured ProbeScale points, x = kept fraction of parameters. */
export function fittedCurvePlot(curve: { x: number; r: number }[], points: { x: number; r: number }[], title = 'retention'): vl.TopLevelSpec {
  return {
    width: 420,
    height: 240,
    layer: [
      { data: { values: curve }, mark: { type: 'line', color: '#1f77b4' }, encoding: { x: { field: 'x', type: 'quantitative', title: 'kept fraction of parameters', axis: { format: '%' } }, y: { field: 'r', type: 'quantitative', title, scale: { zero: false }, axis: { format: '%' } } } },
      { data: { values: points }, mark: { type: 'point', filled: true, size: 60, color: '#d62728' }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'r', type: 'quantitative' } } },
    ],
  };
}

/** Small-LM study: test NLL against training FLOPs (log), one line per configuration, a panel per dataset. */
export function nllVsFlopsPlot(points: { dataset: string; config: string; flops: number; nll: number }[]): vl.TopLevelSpec {
  return {
    data: { values: points },
    facet: { column: { field: 'dataset', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'flops', type: 'quantitative', scale: { type: 'log' }, title: 'training FLOPs' },
        y: { field: 'nll', type: 'quantitative', aggregate: 'mean', scale: { zero: false }, title: 'test NLL (nats/token)' },
        color: { field: 'config', type: 'nominal' },
      },
    },
  };
}

/** Small-LM study: final test NLL against parameters (log), mean over seeds with CI bars, a panel per dataset. */
export function nllVsParamsPlot(rows: { dataset: string; config: string; parameters: number; nll: number; lo: number; hi: number }[]): vl.TopLevelSpec {
  return {
    data: { values: rows },
    facet: { column: { field: 'dataset', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        { mark: { type: 'rule' }, encoding: { x: { field: 'parameters', type: 'quantitative', scale: { type: 'log' } }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'config', type: 'nominal' } } },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            x: { field: 'parameters', type: 'quantitative', scale: { type: 'log' }, title: 'parameters' },
            y: { field: 'nll', type: 'quantitative', scale: { zero: false }, title: 'test NLL at equal FLOPs' },
            color: { field: 'config', type: 'nominal' },
          },
        },
      ],
    },
  };
}

/** Scaling law: measured vs predicted held-out loss (log-log), held-out configurations highlighted. */
export function lawFitPlot(points: { loss: number; predicted: number; heldOut: boolean; N: number }[]): vl.TopLevelSpec {
  const lo = Math.min(...points.flatMap((p) => [p.loss, p.predicted]));
  const hi = Math.max(...points.flatMap((p) => [p.loss, p.predicted]));
  return {
    width: 300,
    height: 260,
    layer: [
      { data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] }, mark: { type: 'line', color: '#999', strokeDash: [4, 3] }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } },
      {
        data: { values: points.map((p) => ({ ...p, set: p.heldOut ? 'held out' : 'fitted' })) },
        mark: { type: 'point', filled: true, size: 50 },
        encoding: {
          x: { field: 'predicted', type: 'quantitative', scale: { zero: false }, title: 'predicted loss (conditional law)' },
          y: { field: 'loss', type: 'quantitative', scale: { zero: false }, title: 'measured held-out loss' },
          color: { field: 'set', type: 'nominal' },
        },
      },
    ],
  };
}

/** Scaling law residuals (log measured - log predicted) against non-embedding parameters. */
export function lawResidualPlot(points: { loss: number; predicted: number; heldOut: boolean; N: number; D: number }[]): vl.TopLevelSpec {
  return {
    width: 300,
    height: 260,
    data: { values: points.map((p) => ({ N: p.N, D: p.D, residual: Math.log(p.loss) - Math.log(p.predicted), set: p.heldOut ? 'held out' : 'fitted' })) },
    mark: { type: 'point', filled: true, size: 50 },
    encoding: {
      x: { field: 'N', type: 'quantitative', scale: { type: 'log' }, title: 'non-embedding parameters' },
      y: { field: 'residual', type: 'quantitative', title: 'log measured - log predicted' },
      color: { field: 'set', type: 'nominal' },
      size: { field: 'D', type: 'quantitative', title: 'tokens' },
    },
  };
}

/** Pretraining: training loss (every 10 steps) and held-out loss at each evaluation, against steps. */
export function trainingCurvePlot(curve: { step: number; loss: number }[], evals: { step: number; loss: number }[]): vl.TopLevelSpec {
  const values = [...curve.map((c) => ({ step: c.step, loss: c.loss, set: 'training batch' })), ...evals.map((e) => ({ step: e.step, loss: e.loss, set: 'held-out' }))];
  return {
    width: 420,
    height: 240,
    data: { values },
    mark: { type: 'line', point: false },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'optimizer step' },
      y: { field: 'loss', type: 'quantitative', scale: { zero: false }, title: 'cross-entropy (nats/token)' },
      color: { field: 'set', type: 'nominal' },
    },
  };
}
