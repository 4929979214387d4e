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

/** Probe score per layer, one line per task, with the 95% CI as a band. */
export function probeCurves(points: CurvePoint[]): vl.TopLevelSpec {
  return {
    width: 420,
    height: 240,
    data: { values: points },
    encoding: { x: { field: 'layer', type: 'quantitative', title: 'representation (0 = embeddings)', axis: { tickMinStep: 1 } }, color: { field: 'task', type: 'nominal' } },
    layer: [
      { mark: { type: 'area', opacity: 0.2 }, encoding: { y: { field: 'lo', type: 'quantitative', title: 'test score', scale: { zero: false } }, y2: { field: 'hi' } } },
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'score', type: 'quantitative' } } },
    ],
  };
}

export interface RetentionPoint {
  method: string;
  parameters: number;
  retention: number;
}

/** Retention against kept parameters, one line per selection method. */
export function retentionPlot(points: RetentionPoint[], title = 'test retention (weighted)'): vl.TopLevelSpec {
  return {
    width: 420,
    height: 260,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'parameters', type: 'quantitative', title: 'kept parameters' },
      y: { field: 'retention', type: 'quantitative', title, scale: { zero: false }, axis: { format: '%' } },
      color: { field: 'method', type: 'nominal' },
      strokeDash: { condition: { test: "datum.method === 'probescale'", value: [1, 0] }, value: [4, 3] },
      strokeWidth: { condition: { test: "datum.method === 'probescale'", value: 3 }, value: 1.5 },
    },
  };
}

/** Fitted retention curve (line) over the measured ProbeScale points, x = kept fraction of parameters. */
export function fittedCurvePlot(curve: { x: number; r: number }[], points: { x: number; r: number }[]): vl.TopLevelSpec {
  return {
    width: 420,
    height: 240,
    layer: [
      { data: { values: curve }, mark: { type: 'line', color: '#1f77b4' }, encoding: { x: { field: 'x', type: 'quantitative', title: 'kept fraction of parameters', axis: { format: '%' } }, y: { field: 'r', type: 'quantitative', title: 'retention', scale: { zero: false }, axis: { format: '%' } } } },
      { data: { values: points }, mark: { type: 'point', filled: true, size: 60, color: '#d62728' }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'r', type: 'quantitative' } } },
    ],
  };
}

/** Small-LM study: test NLL against training FLOPs (log), one line per configuration, a panel per dataset. */
export function nllVsFlopsPlot(points: { dataset: string; config: string; flops: number; nll: number }[]): vl.TopLevelSpec {
  return {
    data: { values: points },
    facet: { column: { field: 'dataset', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
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
    resolve: { scale: { y: 'independent' } },
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
