/**
 * A user-facing error: names the file (when there is one), what is wrong and how to fix it.
 * The CLI prints these without a stack trace; anything else is a bug and keeps its stack.
 */
export class ProbescaleError extends Error {
  readonly file?: string;
  readonly fix?: string;
  constructor(message: string, opts: { file?: string; fix?: string } = {}) {
    const where = opts.file ? `${opts.file}: ` : '';
    const how = opts.fix ? `\n  fix: ${opts.fix}` : '';
    super(`${where}${message}${how}`);
    this.name = 'ProbescaleError';
    this.file = opts.file;
    this.fix = opts.fix;
  }
}

/** A bad command-line argument (exit status 2, like commander's own usage errors); failures exit 1. */
export class UsageError extends ProbescaleError {
  constructor(message: string, opts: { file?: string; fix?: string } = {}) {
    super(message, opts);
    this.name = 'UsageError';
  }
}

const FS_REASONS: Record<string, { what: string; fix: string }> = {
  ENOSPC: { what: 'no space left on the device', fix: 'free disk space or choose an output on another disk' },
  EDQUOT: { what: 'disk quota exceeded', fix: 'free space or choose another output folder' },
  EACCES: { what: 'permission denied', fix: 'fix its permissions or choose another path' },
  EPERM: { what: 'operation not permitted', fix: 'fix its permissions or choose another path' },
  EROFS: { what: 'read-only file system', fix: 'choose an output on a writable disk' },
  ENOENT: { what: 'no such file or folder (or this file system does not allow creating it)', fix: 'check the path; outputs cannot go under /proc or /sys' },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', fix: 'check the path' },
  EISDIR: { what: 'is a folder, expected a file', fix: 'check the path' },
  EEXIST: { what: 'already exists', fix: 'choose another path' },
  ENOTEMPTY: { what: 'folder is not empty', fix: 'choose another path' },
  EMFILE: { what: 'too many open files', fix: 'raise the open-file limit (ulimit -n)' },
  ENAMETOOLONG: { what: 'path too long', fix: 'choose a shorter path' },
  EIO: { what: 'input/output error from the disk', fix: 'check the disk' },
  ELOOP: { what: 'too many symbolic links', fix: 'check the path' },
};

/** A file-system error as a user error naming the path and what we were doing; anything else passes through. */
export function fsError(err: unknown, path: string, doing: string): Error {
  if (err instanceof ProbescaleError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const r = code ? FS_REASONS[code] : undefined;
  if (!r) return err as Error;
  const e = new ProbescaleError(`could not ${doing}: ${r.what} (${code})`, { file: path, fix: r.fix });
  (e as { cause?: unknown }).cause = err;
  return e;
}

/** The same for an error that escaped with a path of its own (err.path), used by the CLI as a last resort. */
export function asUserError(err: unknown): ProbescaleError | undefined {
  if (err instanceof ProbescaleError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && FS_REASONS[e.code]) {
    const r = fsError(err, e.path ?? (e as { dest?: string }).dest ?? '(unknown path)', e.syscall ?? 'access a file');
    return r instanceof ProbescaleError ? r : undefined;
  }
  return undefined;
}
