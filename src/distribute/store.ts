/**
 * The scale-out result store: a folder (on a file system every worker and the coordinator mount at the same
 * path) of immutable entries addressed by content. A key hashes the model files' hash, the job's spec and the
 * code version, so an entry is computed once whoever asks again; an entry is written in a temp folder and
 * renamed into place, so a killed or retried job leaves either nothing or the whole entry, and two workers
 * finishing the same entry keep the first (both wrote the same bytes).
 *
 * Layout: ROOT/<kind>/<code version>/<key> (`splits/`: which shards make up a split's features; the feature cache: ROOT/features/<code version>/<feature key>), and
 * ROOT/.probescale-output.json, the marker every probescale output folder carries. probescale writes only into
 * a store folder that is new, empty or marked, and deletes only what matches this layout in a marked folder:
 * temp folders of its own dead processes, and (`probescale store --prune`) whole code versions.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync, lstatSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirp, markerText, outputState, OUTPUT_MARKER, pidAlive, writeFileAtomic } from '../util/atomic.js';
import { fsError, ProbescaleError } from '../util/errors.js';

export type EntryKind = 'shards' | 'splits' | 'fits' | 'subsets' | 'runs';
/** every folder of the layout, the feature cache included */
const KINDS = ['features', 'shards', 'splits', 'fits', 'subsets', 'runs'] as const;
const CODE = /^[0-9a-f]{16}$/;
/** An entry (or its temp file) of the flat layout of before code-version folders: ROOT/<kind>/<key>. */
const FLAT_ENTRY = /^[0-9a-f]{24}(\..+\.tmp)?$/;

export function storeKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

export interface StoreVersion {
  code: string;
  /** entries per kind folder (complete entries and any temp folders alike) */
  entries: Partial<Record<(typeof KINDS)[number], number>>;
  bytes: number;
}

export class Store {
  constructor(
    readonly root: string,
    /** the code version this process reads and writes (entries of other versions are never read) */
    readonly code: string,
  ) {}

  /**
   * Refuse a --store that probescale must not write into (a file, or a folder holding other files); create and
   * mark it when it is new or empty. `flag` names the option in the message.
   */
  static check(root: string, flag = '--store'): void {
    const state = outputState(root);
    if (state === 'file') throw new ProbescaleError(`${flag} is a file (or link), not a folder`, { file: root, fix: `choose a new folder for ${flag}` });
    if (state === 'foreign' && !legacyStore(root)) throw new ProbescaleError(`${flag} is a folder with other files that probescale did not write; a store folder holds only probescale's entries`, { file: root, fix: `choose a new or empty folder for ${flag}` });
  }

  /** Check the folder (see check) and create/mark it if needed; called before anything is written into it. */
  ensure(flag = '--store'): void {
    Store.check(this.root, flag);
    mkdirp(this.root);
    if (!existsSync(join(this.root, OUTPUT_MARKER))) writeFileAtomic(join(this.root, OUTPUT_MARKER), markerText('scale-out result store'));
  }

  path(kind: EntryKind, key: string): string {
    return join(this.root, kind, this.code, key);
  }

  /** feature-cache folder (extractFeatures' cacheDir) of this code version */
  featuresDir(): string {
    return join(this.root, 'features', this.code);
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
    this.ensure();
    mkdirp(join(this.root, kind, this.code));
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
    if (outputState(this.root) !== 'probescale') return; // only in a folder probescale marked as its store
    const host = hostname();
    for (const kind of ['shards', 'splits', 'fits', 'subsets', 'runs'] as const) {
      const dir = join(this.root, kind, this.code);
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const m = /^[0-9a-f]{24}\.(.+)\.(\d+)\.\d+\.tmp$/.exec(n);
        if (m && m[1] === host && Number(m[2]) !== process.pid && !pidAlive(Number(m[2]))) rmSync(join(dir, n), { recursive: true, force: true });
      }
    }
  }

  putJson(kind: EntryKind, key: string, value: unknown): Promise<boolean> {
    return this.put(kind, key, (dir) => writeJson(join(dir, 'value.json'), value));
  }
}

/**
 * A store written before stores carried the marker (2026-11-29): no marker, and nothing at the top but the
 * store's own kind folders. Marked on first use like a new one.
 */
function legacyStore(root: string): boolean {
  const names = readdirSync(root);
  return names.length > 0 && names.every((n) => (KINDS as readonly string[]).includes(n) && lstatSync(join(root, n)).isDirectory());
}

/** The code versions in a store folder: entries per kind and bytes (read-only); "flat" = entries of the older layout. */
export function storeVersions(root: string, flag = '--store'): StoreVersion[] {
  const state = outputState(root);
  if (state === 'absent' || state === 'file') throw new ProbescaleError(`${flag} ${state === 'absent' ? 'does not exist' : 'is a file, not a folder'}`, { file: root, fix: 'give the folder a probescale run used as --store (default OUT/.store)' });
  const out = new Map<string, StoreVersion>();
  for (const kind of KINDS) {
    let codes: string[];
    try {
      codes = readdirSync(join(root, kind));
    } catch {
      continue;
    }
    // entries of the flat layout of before code-version folders: listed as one pseudo-version, "flat"
    const flat = kind === 'features' ? [] : codes.filter((n) => FLAT_ENTRY.test(n));
    if (flat.length) {
      const v = out.get('flat') ?? out.set('flat', { code: 'flat', entries: {}, bytes: 0 }).get('flat')!;
      v.entries[kind] = flat.length;
      v.bytes += flat.reduce((a, n) => a + du(join(root, kind, n)), 0);
    }
    for (const code of codes.filter((c) => CODE.test(c))) {
      const v = out.get(code) ?? out.set(code, { code, entries: {}, bytes: 0 }).get(code)!;
      const dir = join(root, kind, code);
      v.entries[kind] = readdirSync(dir).length;
      v.bytes += du(dir);
    }
  }
  return [...out.values()].sort((a, b) => (a.code === 'flat' ? 1 : b.code === 'flat' ? -1 : a.code < b.code ? -1 : 1));
}

/**
 * Delete every code version but `keep` from a store probescale marked as its own: whole ROOT/<kind>/<code>
 * folders whose names match the layout; nothing else (unknown names, the marker) is touched. Entries written
 * by the flat layout of before code-version folders (ROOT/<kind>/<key>) are no code's and go too.
 */
export function pruneStore(root: string, keep: Set<string>, flag = '--store'): { removed: string[]; bytes: number } {
  const state = outputState(root);
  if (state !== 'probescale') {
    throw new ProbescaleError(state === 'absent' ? `${flag} does not exist` : `${flag} is not a probescale store (no ${OUTPUT_MARKER} marker); probescale deletes only in folders it marked`, { file: root, fix: 'give the folder a probescale run used as --store (default OUT/.store)' });
  }
  const removed: string[] = [];
  let bytes = 0;
  for (const kind of KINDS) {
    let names: string[];
    try {
      names = readdirSync(join(root, kind));
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(root, kind, n);
      const version = CODE.test(n) && lstatSync(p).isDirectory();
      const flat = kind !== 'features' && FLAT_ENTRY.test(n) && lstatSync(p).isDirectory();
      if ((version && !keep.has(n)) || flat) {
        bytes += du(p);
        rmSync(p, { recursive: true, force: true });
        removed.push(join(kind, n));
      }
    }
  }
  return { removed, bytes };
}

function du(p: string): number {
  const st = lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((a, n) => a + du(join(p, n)), 0);
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}
function writeDone(dir: string): void {
  writeFileSync(join(dir, 'done'), '');
}
