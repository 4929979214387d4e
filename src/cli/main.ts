/**
 * probescale command line. Each subcommand lives in commands/<name>.ts and registers itself here.
 * User errors (ProbescaleError, bad arguments) print one clear message and exit 1; anything else keeps its stack.
 */
import { Command } from 'commander';
import { ProbescaleError } from '../util/errors.js';
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

const program = new Command();
program
  .name('probescale')
  .description('Probe every layer of a pretrained transformer, keep the layers your tasks need, verify the smaller model.')
  .version('0.1.0');
for (const cmd of [forward, generate, convert, info, probe, run, predict, study, pretrain, demo]) cmd.register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ProbescaleError) {
    console.error(`probescale: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
