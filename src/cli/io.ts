import { readChecked } from '../scenario/files.ts';
/** Where a command writes. The real CLI passes process streams; tests pass buffers. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** An in-memory CliIo, for tests and for callers that want the text. */
export function bufferIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

/** The largest input file a command reads (config dumps of big meshes run to tens of MB). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * The text of a file a command is given: a regular file or a pipe (`<(kubectl exec … )`,
 * /dev/stdin), at most MAX_INPUT_BYTES, read from the descriptor that was checked; a device
 * (`/dev/zero`) or a directory is refused.
 */
export function readInputFile(path: string): string {
  return readChecked(path, { max: MAX_INPUT_BYTES, fifo: true }).toString('utf8');
}
