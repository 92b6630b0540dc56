// `-o, --output <format>` as kubectl has it, the same on every command that prints data: the
// command's own text (its default), json or yaml of the same data.
import type { Command } from 'commander';
import { CliError, EXIT_BAD_INPUT } from './exit-codes.ts';

export type OutputFormat = 'text' | 'json' | 'yaml';

/** Adds `-o, --output` (text names the command's own form, e.g. istioctl's "short") and the older `--json`, kept as `-o json`. */
export function withOutput(cmd: Command, text = 'text', what = 'its text'): Command {
  return cmd.option('-o, --output <format>', `${text} (${what}, the default), json or yaml`, text).option('--json', 'the same as -o json');
}

/** The format asked for, checked (exit 2 otherwise). */
export function outputFormat(opts: { output?: string; json?: boolean }, text = 'text'): OutputFormat {
  if (opts.json) {
    if (opts.output !== undefined && opts.output !== text && opts.output !== 'json') throw new CliError(`--json and -o ${opts.output}: choose one`, EXIT_BAD_INPUT);
    return 'json';
  }
  const o = opts.output ?? text;
  if (o === text) return 'text';
  if (o === 'json' || o === 'yaml') return o;
  throw new CliError(`-o ${o}: expected ${text}, json or yaml`, EXIT_BAD_INPUT);
}

export { formatData } from '../report/data-format.ts';
