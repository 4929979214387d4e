/** Shared benchmark plumbing: where things are, which Python has the peers, machine facts. */
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { PACKAGE_ROOT } from '../src/cli/paths.js';

export const ROOT = PACKAGE_ROOT;
/** Debian's python3 (python3-torch, python3-sklearn are Debian packages), not a pyenv shim. */
export const PYTHON = process.env.PROBESCALE_PYTHON ?? '/usr/bin/python3';

export function cacheDir(): string {
  const d = join(ROOT, '.cache', 'bench');
  mkdirSync(d, { recursive: true });
  return d;
}

export function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}
