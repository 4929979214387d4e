/**
 * The scale-out result store: a folder (on a file system every worker and the coordinator mount at the same
 * path) of immutable entries addressed by content. A key hashes the model files' hash, the job's spec and the
 * code version, so an entry is computed once whoever asks again; an entry is written in a temp folder and
 * renamed into place, so a killed or retried job leaves either nothing or the whole entry, and two workers
 * finishing the same entry keep the first (both wrote the same bytes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirp } from '../util/atomic.js';
import { fsError } from '../util/errors.js';

export type EntryKind = 'shards' | 'fits' | 'subsets' | 'runs';

export function storeKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

export class Store {
  constructor(readonly root: string) {}

  path(kind: EntryKind, key: string): string {
    return join(this.root, kind, key);
  }

  /** feature-cache folder (extractFeatures' cacheDir) of this code version */
  featuresDir(code: string): string {
    return join(this.root, 'features', code);
  }

  has(kind: EntryKind, key: string): boolean {
    return existsSync(join(this.path(kind, key), 'done'));
  }

  readJson<T>(kind: EntryKind, key: string): T {
    return JSON.parse(readFileSync(join(this.path(kind, key), 'value.json'), 'utf8')) as T;
  }

  /**
   * Create the entry by filling a temp folder and renaming it in; `done` is written last inside the temp
   * folder, so an entry without it is never read. Returns false when another writer got there first.
   */
  async put(kind: EntryKind, key: string, fill: (dir: string) => Promise<void> | void): Promise<boolean> {
    const dir = this.path(kind, key);
    if (this.has(kind, key)) return false;
    mkdirp(join(this.root, kind));
    const tmp = `${dir}.${hostname()}.${process.pid}.${Date.now()}.tmp`;
    try {
      mkdirSync(tmp);
      await fill(tmp);
      writeDone(tmp);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw fsError(err, tmp, 'write a scale-out store entry');
    }
    try {
      renameSync(tmp, dir);
      return true;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && this.has(kind, key)) return false;
      throw fsError(err, dir, 'store a scale-out entry');
    }
  }

  /**
   * Remove temp folders that processes of this machine left when they died (SIGKILL, power loss); other
   * machines' temp folders are theirs to clean (a pid means nothing across machines).
   */
  cleanStale(): void {
    const host = hostname();
    for (const kind of ['shards', 'fits', 'subsets', 'runs'] as const) {
      let names: string[];
      try {
        names = readdirSync(join(this.root, kind));
      } catch {
        continue;
      }
      for (const n of names) {
        const m = /^[0-9a-f]{24}\.(.+)\.(\d+)\.\d+\.tmp$/.exec(n);
        if (m && m[1] === host && Number(m[2]) !== process.pid && !pidAlive(Number(m[2]))) rmSync(join(this.root, kind, n), { recursive: true, force: true });
      }
    }
  }

  putJson(kind: EntryKind, key: string, value: unknown): Promise<boolean> {
    return this.put(kind, key, (dir) => writeJson(join(dir, 'value.json'), value));
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}
function writeDone(dir: string): void {
  writeFileSync(join(dir, 'done'), '');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
