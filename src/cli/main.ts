import { Command, CommanderError } from 'commander';
import { CliError, EXIT_BAD_INPUT, EXIT_OK } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';
import type { CliContext } from './context.ts';
import { commands } from './commands/index.ts';
import { PATHLAB_VERSION } from '../lab/package-root.ts';


export function buildProgram(ctx: CliContext): Command {
  const program = new Command('pathlab')
    .description(
      'Where did my packet go? Run Istio sidecar traffic-path scenarios in a lab and check each hop.',
    )
    .version(PATHLAB_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 a check failed, 2 bad input or usage, 3 the environment cannot run it.
Run 'pathlab <command> --help' for a command's options.`,
  );
  for (const register of commands) register(program, ctx);
  return program;
}

/** Runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  const ctx: CliContext = { io, exit: (code) => void (exitCode = Math.max(exitCode, code)) };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exitCode 0; usage errors are exit 2 in pathlab.
      return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (e instanceof CliError) {
      io.err(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
