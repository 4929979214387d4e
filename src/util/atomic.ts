import { mkdirSync, renameSync, rmSync, writeFileSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** Path of a sibling temp file, so the final rename stays on one file system (atomic). */
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

/** Write a whole file or nothing: data goes to a temp file which is renamed over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
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
    throw err;
  }
}

/**
 * Build a whole directory or nothing: `fill` writes into a temp directory which then replaces `dir`.
 * A crash or an error inside `fill` leaves no half-written output behind.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const tmp = tempPath(dir);
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
