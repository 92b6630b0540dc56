/** Exit codes shared by every `pathlab` command. */
export const EXIT_OK = 0;
/** A check ran and failed (a scenario's path differs, a probe did not reach). */
export const EXIT_CHECK_FAILED = 1;
/** Bad input or usage: an invalid scenario, an unknown flag, a missing file. */
export const EXIT_BAD_INPUT = 2;
/** The environment cannot run it: no root, a missing tool. The message says how to fix it. */
export const EXIT_ENVIRONMENT = 3;

/** An error a command raises to end with a given exit code and a message for stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
