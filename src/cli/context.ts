import type { Command } from 'commander';
import type { CliIo } from './io.ts';

/** What a command gets: where to write, and how to set the exit code of the run. */
export interface CliContext {
  io: CliIo;
  /** Sets the exit code `main` returns (the highest one set wins). */
  exit(code: number): void;
}

/** What every command module exports: it adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;
