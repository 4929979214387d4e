import { accessSync, constants, linkSync, mkdirSync, renameSync, rmSync, writeFileSync, openSync, writeSync, closeSync, fsyncSync, statSync, statfsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { ProbescaleError, fsError } from './errors.js';

/** Every folder probescale creates carries this file; only such folders (or empty ones) are ever replaced. */
export const OUTPUT_MARKER = '.probescale-output.json';

/** Path of a sibling temp file, so the final rename stays on one file system (atomic). */
function tempPath(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${tag}`);
}

/**
 * `mkdir -p` that cannot spin: Node's recursive mkdir loops forever on pseudo file systems such as /proc
 * (mkdir there answers ENOENT, so it retries the parent). Here each missing component is created once, in
 * order, and the first failure is an error naming the path.
 */
export function mkdirp(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, p, 'create the folder');
      missing.push(p);
      const parent = dirname(p);
      if (parent === p) throw fsError(err, p, 'create the folder');
      p = parent;
      continue;
    }
    if (!st.isDirectory()) throw new ProbescaleError('is a file, not a folder', { file: p, fix: 'choose an output path whose parents are folders' });
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(m).isDirectory()) continue; // made by a concurrent run
      throw fsError(err, m, 'create the folder');
    }
  }
}

/** Write a whole file or nothing: data goes to a temp file which is renamed over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): void {
  mkdirp(dirname(path));
  const tmp = tempPath(path);
  try {
    if (Array.isArray(data)) {
      const fd = openSync(tmp, 'w');
      try {
        for (const part of data) writeSync(fd, part);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } else {
      writeFileSync(tmp, data);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fsError(err, path, 'write the file');
  }
}

/** What is at `dir` now, as far as replacing it goes. */
export function outputState(dir: string): 'absent' | 'empty' | 'probescale' | 'foreign' | 'file' {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw fsError(err, dir, 'inspect the output path');
  }
  if (!st.isDirectory()) return 'file'; // a file, a symlink, a device: never replaced
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw fsError(err, dir, 'list the output folder');
  }
  if (entries.length === 0) return 'empty';
  if (entries.includes(OUTPUT_MARKER)) {
    try {
      const m = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as { tool?: unknown };
      if (m && m.tool === 'probescale') return 'probescale';
    } catch {
      // an unreadable marker is not proof that probescale wrote the folder
    }
  }
  return 'foreign';
}

/**
 * Refuse an output path that holds something probescale did not write: a file (always), or a non-empty
 * folder without the marker (unless `overwrite`). `flag` names the option in the message.
 */
export function checkReplaceable(dir: string, opts: { overwrite?: boolean; flag?: string } = {}): void {
  const state = outputState(dir);
  const flag = opts.flag ?? '--out';
  if (state === 'file') throw new ProbescaleError(`${flag} is a file (or link), not a folder; probescale never replaces it`, { file: dir, fix: `choose a new folder for ${flag}` });
  if (state === 'foreign' && !opts.overwrite) {
    throw new ProbescaleError(`${flag} is a folder with other files that probescale did not write`, { file: dir, fix: `choose a new or empty folder, or pass --overwrite to replace it` });
  }
}

/** Marker contents: which tool and what wrote the folder, so a later run may replace it. */
export function markerText(what: string): string {
  return JSON.stringify({ tool: 'probescale', wrote: what, pid: process.pid, date: new Date().toISOString() }, null, 2) + '\n';
}

/** Create (if needed) an output folder we will write into, after checking it is ours to use, and mark it. */
export function prepareOutputDir(dir: string, what: string, opts: { overwrite?: boolean; flag?: string } = {}): void {
  checkReplaceable(dir, opts);
  mkdirp(dir);
  if (!statSync(join(dir, OUTPUT_MARKER), { throwIfNoEntry: false })) writeFileAtomic(join(dir, OUTPUT_MARKER), markerText(what));
  removeDeadTemps(dir);
}

/** Whether a process of this machine exists (EPERM: it does, owned by someone else): the owner test of every temp folder and lock. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temp files/folders (tempPath names) that a killed process left in one of our output folders. */
function removeDeadTemps(dir: string): void {
  for (const n of readdirSync(dir)) {
    const m = /^\..+\.(\d+)\.\d{13}\.(tmp|old)$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    if (pidAlive(Number(m[1]))) continue; // alive: still writing
    rmSync(join(dir, n), { recursive: true, force: true });
  }
}

/**
 * Build a whole directory or nothing: `fill` writes into a temp directory which then replaces `dir`.
 * A crash or an error inside `fill` leaves no half-written output behind. The target is replaced only when
 * it is absent, empty or a marked probescale output (or `overwrite`); a file there is always refused. The old
 * folder is renamed aside first and removed only after the new one is in place, so there is never a moment
 * with nothing at `dir` that a failure could make permanent.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void> | void, opts: { overwrite?: boolean; flag?: string; what?: string } = {}): Promise<void> {
  checkReplaceable(dir, opts);
  checkCanCreate(dir, opts.flag);
  mkdirp(dirname(resolve(dir)));
  const tmp = tempPath(dir);
  try {
    mkdirSync(tmp);
  } catch (err) {
    throw fsError(err, tmp, 'create the temporary output folder');
  }
  try {
    await fill(tmp);
    writeFileSync(join(tmp, OUTPUT_MARKER), markerText(opts.what ?? 'output folder'));
    checkReplaceable(dir, opts); // again: something may have appeared while we were writing
    replaceDir(tmp, dir, opts);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err instanceof ProbescaleError ? err : fsError(err, dir, 'write the output folder');
  }
}

/**
 * Put the finished folder `tmp` at `dir`: the old folder (already checked to be replaceable) is renamed
 * aside, the new one renamed in, and only then is the old one removed; if the second rename fails the old
 * folder is put back.
 */
export function replaceDir(tmp: string, dir: string, opts: { overwrite?: boolean; flag?: string } = {}): void {
  // a concurrent writer can put its own folder at `dir` between our two renames: then check again and retry
  for (let attempt = 0; ; attempt++) {
    const aside = tempPath(dir, 'old');
    let moved = false;
    try {
      renameSync(dir, aside);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, dir, 'move the previous output aside');
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (moved) {
        try {
          renameSync(aside, dir); // put the previous output back
        } catch {
          // a concurrent writer's folder is at dir now; the previous output was ours to replace anyway
          rmSync(aside, { recursive: true, force: true });
        }
      }
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 5) {
        checkReplaceable(dir, opts);
        continue;
      }
      throw fsError(err, dir, 'move the new output into place');
    }
    if (moved) rmSync(aside, { recursive: true, force: true }); // ours (marked), empty, or the user said --overwrite
    return;
  }
}

/**
 * Can `dir` be created (or written, if it exists) — checked without creating anything, so a run that fails
 * validation leaves nothing behind. Walks up to the nearest existing folder and asks for write access there.
 */
export function checkCanCreate(dir: string, flag = '--out'): void {
  let p = resolve(dir);
  for (;;) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st) {
      if (!st.isDirectory()) throw new ProbescaleError(`${flag}: ${p} is a file, not a folder`, { file: dir, fix: `choose another ${flag}` });
      try {
        accessSync(p, constants.W_OK);
      } catch (err) {
        throw new ProbescaleError(`output directory is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)} at ${p})`, { file: dir, fix: `choose another ${flag} or fix its permissions` });
      }
      // pseudo file systems take no new folders (and Node's recursive mkdir spins on them)
      const type = statfsSync(p).type;
      if (PSEUDO_FS.has(type)) throw new ProbescaleError(`${flag} is on a pseudo file system (${p}) where files cannot be created`, { file: dir, fix: `choose an ${flag} on a real disk` });
      return;
    }
    const parent = dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

/** statfs magic numbers of proc, sysfs, cgroup v1/v2, debugfs, securityfs, configfs, tracefs. */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x73636673, 0x62656570, 0x74726163]);

const heldLocks = new Set<string>();
process.once('exit', () => heldLocks.forEach((l) => rmSync(l, { force: true })));

/**
 * Take `<dir>/.probescale.lock` (created exclusively, holding our pid) and return its release. Another live
 * process holding it is waited for; a lock left by a dead process (or by this process after an error) is
 * taken over; held locks are removed when the process exits. Serializes the part of concurrent runs that
 * replaces and then re-reads the same files (run: OUT/model, its verification, results.json).
 */
export async function lockDir(dir: string, log: (s: string) => void = () => {}): Promise<() => void> {
  mkdirp(dir);
  const lock = join(dir, '.probescale.lock');
  let said = false;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, lock, 'create the lock file');
    }
    let text = '';
    let age = 0;
    try {
      text = readFileSync(lock, 'utf8').trim();
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    const holder = Number(text);
    const valid = /^\d+$/.test(text);
    const alive = valid && holder !== process.pid && pidAlive(holder);
    if (!alive && (valid || age > 5000)) {
      // take over: rename first so only one waiter removes it; if what we moved is not the lock we judged
      // (a fresh one appeared meanwhile), put it back
      const stale = `${lock}.${process.pid}.stale`;
      try {
        renameSync(lock, stale);
        if (readFileSync(stale, 'utf8').trim() !== text) linkSync(stale, lock);
      } catch {
        // someone else got there first
      }
      rmSync(stale, { force: true });
      continue;
    }
    if (!said) log(`waiting for process ${text || '?'}, which is writing ${dir}`), (said = true);
    await new Promise((r) => setTimeout(r, 200));
  }
  heldLocks.add(lock);
  return () => {
    heldLocks.delete(lock);
    rmSync(lock, { force: true });
  };
}
