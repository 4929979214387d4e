/**
 * Progress for long steps, on stderr: a bar in a terminal, plain periodic lines ("label: 12/40 (30%),
 * 18 s, ~42 s left") when stderr is not a terminal (logs, CI), nothing with --quiet. The CLI sets the mode
 * once; library callers get the same default (bar on a TTY, lines otherwise) or call setProgressMode('off').
 */
import cliProgress from 'cli-progress';

export type ProgressMode = 'bar' | 'lines' | 'off';

let mode: ProgressMode | undefined;

export function setProgressMode(m: ProgressMode | undefined): void {
  mode = m;
}

export function progressMode(): ProgressMode {
  return mode ?? (process.stderr.isTTY ? 'bar' : 'lines');
}

/** Seconds between plain lines: PROBESCALE_PROGRESS_INTERVAL (e.g. 60 for long CI logs, 0 for a line per unit), default 10. */
function lineIntervalMs(): number {
  const v = process.env.PROBESCALE_PROGRESS_INTERVAL;
  const s = v === undefined || v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : 10_000;
}

export interface Progress {
  increment(n?: number): void;
  stop(): void;
}

const NONE: Progress = { increment() {}, stop() {} };

function duration(s: number): string {
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/**
 * Start a progress display for `total` units of `unit` (e.g. "sequences", "layers"). `enabled: false`
 * shows nothing. Lines mode prints at most every `intervalMs` (default 10 s, or PROBESCALE_PROGRESS_INTERVAL seconds) and a last line when a step
 * that printed anything ends, so short steps stay silent.
 */
export function startProgress(label: string, total: number, opts: { unit?: string; enabled?: boolean; intervalMs?: number; stream?: NodeJS.WritableStream } = {}): Progress {
  const m = opts.enabled === false ? 'off' : progressMode();
  if (m === 'off' || total <= 0) return NONE;
  const unit = opts.unit ? ` ${opts.unit}` : '';
  if (m === 'bar') {
    const bar = new cliProgress.SingleBar({ format: `${label} {bar} {value}/{total}${unit} | {eta_formatted} left`, stream: process.stderr }, cliProgress.Presets.shades_classic);
    bar.start(total, 0);
    return { increment: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  }
  const stream = opts.stream ?? process.stderr;
  const every = opts.intervalMs ?? lineIntervalMs();
  const t0 = performance.now();
  let done = 0;
  let last = t0;
  let printed = false;
  const line = (final: boolean) => {
    const s = (performance.now() - t0) / 1000;
    const left = done > 0 && done < total ? `, ~${duration((s / done) * (total - done))} left` : '';
    stream.write(`${label}: ${done}/${total}${unit} (${Math.round((100 * done) / total)}%), ${duration(s)}${final ? ', done' : left}\n`);
    printed = true;
  };
  return {
    increment(n = 1) {
      done = Math.min(total, done + n);
      const now = performance.now();
      if (now - last >= every) {
        last = now;
        line(false);
      }
    },
    stop() {
      if (printed) line(true);
    },
  };
}
