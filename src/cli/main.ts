/**
 * probescale command line. Each subcommand lives in commands/<name>.ts and registers itself here.
 * User errors print one line naming the file or argument and the fix: bad arguments (commander's own and
 * UsageError) exit 2, other user errors (ProbescaleError, file-system errors with a path) exit 1. Anything
 * else is a bug and keeps its stack; `--debug` prints the stack of every error.
 */
import { Command, CommanderError } from 'commander';
import { asUserError, UsageError } from '../util/errors.js';
import { setProgressMode } from '../util/progress.js';
const debug = process.argv.includes('--debug');
// `probescale ... | head`: a closed pipe ends the output, it is not a crash
for (const stream of [process.stdout, process.stderr]) stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(0) : undefined));
// --quiet: no progress (bars or periodic lines) and no step log, anywhere on the line
if (process.argv.includes('--quiet')) setProgressMode('off');
const program = new Command();
program
  .name('probescale')
  .description('Probe every layer of a pretrained transformer, keep the layers your tasks need, verify the smaller model.')
  .version('0.1.0')
  .option('--debug', 'print the stack trace of any error');
// Each command module pulls in its own dependencies (onnxruntime, vega, ...): load only the one invoked, so
// a command (or a usage error) does not pay ~1 s of start-up for the others; help and unknown commands load all.
type CommandModule = { register(program: Command): void };
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  forward: () => import('./commands/forward.js'),
  generate: () => import('./commands/generate.js'),
  convert: () => import('./commands/convert.js'),
  info: () => import('./commands/info.js'),
  probe: () => import('./commands/probe.js'),
  run: () => import('./commands/run.js'),
  predict: () => import('./commands/predict.js'),
  study: () => import('./commands/study.js'),
  pretrain: () => import('./commands/pretrain.js'),
  demo: () => import('./commands/demo.js'),
  worker: () => import('./commands/worker.js'),
  store: () => import('./commands/store.js'),
};
const invoked = process.argv.slice(2).find((a) => !a.startsWith('-'));
const wanted = invoked && invoked in COMMANDS ? [invoked] : Object.keys(COMMANDS);
for (const name of wanted) (await COMMANDS[name]()).register(program);
// usage errors exit 2 (commander's default is 1); help and --version keep exit 0
const exitOverride = (c: Command) => {
  c.exitOverride();
  c.commands.forEach(exitOverride);
};
exitOverride(program);
// --debug is accepted anywhere on the line, before or after the subcommand
program.commands.forEach((c) => c.option('--debug', 'print the stack trace of any error').option('--quiet', 'no progress and no step-by-step log (results and errors only)'));

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
