/** Progress when stderr is not a terminal: plain lines with counts and time left; silence when off or quick. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setProgressMode, startProgress } from '../../src/util/progress.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  return { lines, stream };
}

test('lines mode: counts, percentage and time left, then a last line saying done', () => {
  setProgressMode('lines');
  const { lines, stream } = sink();
  const p = startProgress('features upos/train', 4, { unit: 'sequences', intervalMs: 0, stream });
  for (let i = 0; i < 4; i++) p.increment();
  p.stop();
  assert.equal(lines.length, 5);
  assert.match(lines[0], /^features upos\/train: 1\/4 sequences \(25%\), \d+ s, ~\d+ s left$/);
  assert.match(lines[4], /^features upos\/train: 4\/4 sequences \(100%\), \d+ s, done$/);
  setProgressMode(undefined);
});

test('a step shorter than the interval prints nothing; off and enabled: false print nothing', () => {
  setProgressMode('lines');
  const quick = sink();
  const p = startProgress('quick', 3, { stream: quick.stream });
  p.increment(3);
  p.stop();
  assert.deepEqual(quick.lines, []);
  const disabled = sink();
  const d = startProgress('disabled', 3, { enabled: false, intervalMs: 0, stream: disabled.stream });
  d.increment();
  d.stop();
  setProgressMode('off');
  const off = sink();
  const o = startProgress('off', 3, { intervalMs: 0, stream: off.stream });
  o.increment();
  o.stop();
  assert.deepEqual([...disabled.lines, ...off.lines], []);
  setProgressMode(undefined);
});

test('PROBESCALE_PROGRESS_INTERVAL sets the seconds between lines (0: a line per unit); a bad value keeps 10 s', () => {
  setProgressMode('lines');
  const before = process.env.PROBESCALE_PROGRESS_INTERVAL;
  try {
    process.env.PROBESCALE_PROGRESS_INTERVAL = '0';
    const every = sink();
    const p = startProgress('every', 3, { unit: 'runs', stream: every.stream });
    p.increment();
    p.increment();
    p.stop();
    assert.deepEqual(every.lines.map((l) => l.replace(/, \d+ s.*/, '')), ['every: 1/3 runs (33%)', 'every: 2/3 runs (67%)', 'every: 2/3 runs (67%)']);
    process.env.PROBESCALE_PROGRESS_INTERVAL = 'soon';
    const bad = sink();
    const b = startProgress('bad', 3, { stream: bad.stream });
    b.increment();
    b.stop();
    assert.deepEqual(bad.lines, []);
  } finally {
    if (before === undefined) delete process.env.PROBESCALE_PROGRESS_INTERVAL;
    else process.env.PROBESCALE_PROGRESS_INTERVAL = before;
    setProgressMode(undefined);
  }
});
