import { readFileSync, statSync } from 'node:fs';
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
 * The text of a file a command is given: a regular file of at most MAX_INPUT_BYTES, or an error
 * that says why (`/dev/zero` or a FIFO would exhaust memory or hang a command run as root).
 */
export function readInputFile(path: string): string {
  const st = statSync(path);
  if (st.isDirectory()) throw new Error('is a directory');
  if (!st.isFile()) throw new Error('is not a regular file (a FIFO, a socket or a device)');
  if (st.size > MAX_INPUT_BYTES) throw new Error(`is ${st.size} bytes; at most ${MAX_INPUT_BYTES}`);
  return readFileSync(path, 'utf8');
}
