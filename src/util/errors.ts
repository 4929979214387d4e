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
