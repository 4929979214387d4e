/**
 * One direction of flow (README, "Code map"): model -> engine -> features -> probe -> select -> compress ->
 * verify -> scaling -> report, with util, data (and the .d.ts shims in types) beside every stage, train (used
 * by the studies, never by inference) on model and engine, distribute (scale-out) and pipeline orchestrating
 * all of them, cli on top. Every import in src/ (static, type-only, re-export or dynamic import()) must go to
 * its own folder, to an earlier stage or to a folder beside; never to a later stage or to cli. And, as the
 * README promises, the queue code is loaded only with --redis: outside src/distribute it is reached by
 * dynamic import() (or for types) only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = resolve('src');
const CHAIN = ['model', 'engine', 'features', 'probe', 'select', 'compress', 'verify', 'scaling', 'report'];
const BESIDE = ['util', 'data', 'types'];

/** What each folder of src/ may import besides itself (`index` is src/index.ts, the library's entry). */
function allowedFor(folder: string): Set<string> {
  const all = [...BESIDE, ...CHAIN, 'train', 'distribute', 'pipeline'];
  if (folder === 'util' || folder === 'types') return new Set();
  if (folder === 'data') return new Set(['util']);
  if (folder === 'train') return new Set([...BESIDE, 'model', 'engine']);
  if (folder === 'distribute') return new Set([...BESIDE, ...CHAIN, 'train']);
  if (folder === 'pipeline') return new Set([...BESIDE, ...CHAIN, 'train', 'distribute']);
  if (folder === 'index') return new Set(all);
  if (folder === 'cli') return new Set([...all, 'index']);
  const i = CHAIN.indexOf(folder);
  if (i < 0) throw new Error(`src/${folder} is in no layer: add it to the README's code map and to this test`);
  // the studies (scaling) train models; report shows their results
  return new Set([...BESIDE, ...CHAIN.slice(0, i), ...(i >= CHAIN.indexOf('scaling') ? ['train'] : [])]);
}

/**
 * Exceptions to the layers, each with a one-line why; only what the README's code map states. None today:
 * src/model used to import the family registry, and the loaders that need it moved to src/engine/load.ts.
 */
const EXCEPTIONS: { from: string; to: string; why: string }[] = [];

interface Edge {
  file: string;
  target: string;
  kind: 'static' | 'type' | 'dynamic';
}

/** Every relative import of one source text, resolved against src/ (`file` relative to src/). */
function importsOf(file: string, text: string): Edge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: Edge[] = [];
  const add = (spec: string, kind: Edge['kind']) => {
    if (!spec.startsWith('.')) return; // packages and node: builtins
    edges.push({ file, target: relative(SRC, resolve(SRC, dirname(file), spec)).split(sep).join('/'), kind });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly ? 'type' : 'static');
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly ? 'type' : 'static');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, 'dynamic');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, 'type'); // import('./x.js').T in a type position
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** src/a/b.ts -> "a"; src/index.ts -> "index"; outside src -> undefined. */
function folderOf(path: string): string | undefined {
  if (path.startsWith('..')) return undefined;
  const parts = path.split('/');
  return parts.length === 1 ? parts[0].replace(/\.[jt]s$/, '') : parts[0];
}

/** The imports that break the layers, one line each. */
function violations(edges: Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const from = folderOf(e.file)!;
    const to = folderOf(e.target);
    if (to === undefined) {
      out.push(`src/${e.file} imports ${e.target}, outside src/`);
      continue;
    }
    if (to === from) continue;
    if (to === 'distribute' && e.kind === 'static') {
      out.push(`src/${e.file} imports src/${e.target} statically: the queue code loads only with --redis (use await import())`);
    }
    if (allowedFor(from).has(to)) continue;
    if (EXCEPTIONS.some((x) => x.from === from && x.to === to)) continue;
    out.push(`src/${e.file} (${from}) imports src/${e.target} (${to}): ${to} comes after ${from} in the flow`);
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : /\.ts$/.test(d.name) ? [p] : [];
  });
}

test('every import in src/ follows the one direction of flow (README code map)', () => {
  const files = sources(SRC);
  assert.ok(files.length > 100, `found only ${files.length} sources under ${SRC}`);
  const edges = files.flatMap((f) => importsOf(relative(SRC, f).split(sep).join('/'), readFileSync(f, 'utf8')));
  assert.ok(edges.length > 500, `found only ${edges.length} imports`);
  for (const f of new Set(edges.map((e) => folderOf(e.file)!))) allowedFor(f); // every folder has a layer
  assert.deepEqual(violations(edges), []);
});

test('the layering check catches a later stage, cli, a static scale-out import, and reads every import form', () => {
  const check = (file: string, text: string) => violations(importsOf(file, text));
  // allowed: earlier stages, beside, own folder, train from the studies, distribute by import()
  assert.deepEqual(check('probe/x.ts', "import { a } from '../features/extract.js';\nimport { b } from '../util/errors.js';\nimport { c } from '../data/spec.js';\nimport { d } from './types.js';"), []);
  assert.deepEqual(check('scaling/x.ts', "import { Trainer } from '../train/trainer.js';"), []);
  assert.deepEqual(check('pipeline/x.ts', "const { RedisDistributor } = await import('../distribute/queue.js');"), []);
  // refused: a later stage in each import form, cli, train from inference, model -> engine, static distribute
  assert.equal(check('probe/x.ts', "import { renderReport } from '../report/html.js';").length, 1);
  assert.equal(check('probe/x.ts', "import type { RunResults } from '../report/results.js';").length, 1);
  assert.equal(check('probe/x.ts', "export { select } from '../select/search.js';").length, 1);
  assert.equal(check('probe/x.ts', "const m = await import('../compress/heal.js');").length, 1);
  assert.equal(check('probe/x.ts', "let r: import('../verify/heads.js').Verified;").length, 1);
  assert.equal(check('engine/families/x.ts', "import { main } from '../../cli/main.js';").length, 1);
  assert.equal(check('verify/x.ts', "import { Trainer } from '../train/trainer.js';").length, 1);
  assert.equal(check('model/x.ts', "import { FAMILIES } from '../engine/families/index.js';").length, 1);
  assert.equal(check('data/x.ts', "import { loadModel } from '../engine/load.js';").length, 1);
  assert.equal(check('pipeline/x.ts', "import { RedisDistributor } from '../distribute/queue.js';").length, 1);
  assert.equal(check('index.ts', "export { main } from './cli/main.js';").length, 1);
});
