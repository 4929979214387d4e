/**
 * probescale command line. Each subcommand lives in commands/<name>.ts and registers itself here.
 * User errors print one line naming the file or argument and the fix: bad arguments (commander's own and
 * UsageError) exit 2, other user errors (ProbescaleError, file-system errors with a path) exit 1. Anything
 * else is a bug and keeps its stack; `--debug` prints the stack of every error.
 */
import { Command, CommanderError } from 'commander';
import { asUserError, UsageError } from '../util/errors.js';
import * as forward from './commands/forward.js';
import * as generate from './commands/generate.js';
import * as convert from './commands/convert.js';
import * as info from './commands/info.js';
import * as demo from './commands/demo.js';
import * as probe from './commands/probe.js';
import * as run from './commands/run.js';
import * as predict from './commands/predict.js';
import * as study from './commands/study.js';
import * as pretrain from './commands/pretrain.js';

const debug = process.argv.includes('--debug');
const program = new Command();
program
  .name('probescale')
  .description('Probe every layer of a pretrained transformer, keep the layers your tasks need, verify the smaller model.')
  .version('0.1.0')
  .option('--debug', 'print the stack trace of any error');
for (const cmd of [forward, generate, convert, info, probe, run, predict, study, pretrain, demo]) cmd.register(program);
// usage errors exit 2 (commander's default is 1); help and --version keep exit 0
const exitOverride = (c: Command) => {
  c.exitOverride();
  c.commands.forEach(exitOverride);
};
exitOverride(program);
// --debug is accepted anywhere on the line, before or after the subcommand
program.commands.forEach((c) => c.option('--debug', 'print the stack trace of any error'));

/** One line: ProbescaleError's "\n  fix:" continuation is folded into the same line. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*fix:\s*/g, ' — fix: ').replace(/\s*\n\s*/g, ' ');
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander has already printed its message
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const user = asUserError(err);
  if (debug) console.error((err as Error)?.stack ?? err);
  if (user) {
    if (!debug) console.error(`probescale: ${oneLine(user.message)}`);
    process.exit(user instanceof UsageError ? 2 : 1);
  }
  if (!debug) throw err;
  process.exit(1);
}
