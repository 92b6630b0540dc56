// What running a program gave: the argument vector, where it ran, its exit, its output and how
// long it took. A non-zero exit is data here ("connection refused" may be what a scenario
// expects); ProcessError turns a result into an error that carries the whole result and says
// which call made it (zx's ProcessOutput is the model). Pure: the lab runs, this describes.

/** Who a process runs as. */
export interface ProcessUser {
  uid: number;
  gid: number;
}

export interface ProcessResult {
  argv: readonly string[];
  /** Where it ran, for messages: a pod name, "node", "host". */
  where: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** The program could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

export class ProcessError extends Error {
  constructor(
    readonly result: ProcessResult,
    readonly calledFrom: string,
  ) {
    const how = result.spawnError
      ? `could not start: ${result.spawnError}`
      : result.timedOut
        ? `timed out after ${result.durationMs.toFixed(0)} ms`
        : `exited with ${result.exitCode ?? result.signal}`;
    const stderr = result.stderr.trim();
    super(`${result.where}: ${result.argv.join(' ')}: ${how}${stderr ? `\n${stderr}` : ''}\n    at ${calledFrom}`);
    this.name = 'ProcessError';
  }
}
