// Files are untrusted input read by a process with root: a scenario file, the files it names
// (applyFile), the files a command is given. One reader for all of them opens the file once and
// checks what it opened (fstat of the descriptor, the descriptor's real path), so a file swapped
// for a link, a FIFO or a device between a check and a read is never read; it reads at most the
// limit. A file a scenario names must be a regular file inside the scenario's folder (no
// absolute path, no `..` or link out of it). What is wrong is said without the file's content.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** The size of the largest file a scenario or what it names may be. */
export const MAX_FILE_BYTES = 1024 * 1024;

/** Why a file was not read: the kind of reason (for the caller's own words) and the words. */
export class UnreadableFile extends Error {
  constructor(
    readonly reason: 'missing' | 'denied' | 'directory' | 'special' | 'outside' | 'size' | 'other',
    message: string,
    readonly size?: number,
  ) {
    super(message);
    this.name = 'UnreadableFile';
  }
}

export interface ReadOptions {
  /** The folder the file must be in (after every link is resolved). */
  folder?: string;
  max: number;
  /** A FIFO may be read (a command's input from a pipe); never for files a scenario names. */
  fifo?: boolean;
}

/** The bytes of the file at `path`, after the checks of `opts`, read from the one descriptor that was checked. */
export function readChecked(path: string, opts: ReadOptions): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOCTTY: a terminal is not taken over.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UnreadableFile('missing', 'no such file');
    if (code === 'EACCES' || code === 'EPERM') throw new UnreadableFile('denied', 'permission denied');
    if (code === 'EISDIR') throw new UnreadableFile('directory', 'is a directory');
    throw new UnreadableFile('other', `cannot read: ${code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UnreadableFile('directory', 'is a directory');
    if (opts.folder !== undefined) {
      const real = realpathSync(`/proc/self/fd/${fd}`);
      const base = realFolder(opts.folder);
      if (real !== base && !real.startsWith(base.endsWith(sep) ? base : `${base}${sep}`)) {
        throw new UnreadableFile('outside', `leads out of ${relative(process.cwd(), base) || '.'} (a link or path to a file elsewhere)`);
      }
    }
    const fifo = st.isFIFO() && opts.fifo === true;
    if (!st.isFile() && !fifo) throw new UnreadableFile('special', 'is not a regular file (a FIFO, a socket or a device)');
    if (st.isFile() && st.size > opts.max) throw new UnreadableFile('size', `is ${st.size} bytes; at most ${opts.max}`, st.size);
    if (fifo) {
      // A pipe the user gave a command: read it blocking, from a descriptor opened without O_NONBLOCK.
      const blocking = openSync(`/proc/self/fd/${fd}`, 'r');
      closeSync(fd);
      fd = blocking;
    }
    return readUpTo(fd, opts.max);
  } finally {
    closeSync(fd);
  }
}

function realFolder(folder: string): string {
  try {
    return realpathSync(folder);
  } catch {
    return resolve(folder);
  }
}

/** At most `max` bytes: one more means the file is larger than allowed (it grew, or it is a pipe). */
function readUpTo(fd: number, max: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.alloc(Math.min(64 * 1024, max + 1 - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > max) throw new UnreadableFile('size', `is more than ${max} bytes`);
  }
  return Buffer.concat(chunks);
}

/** The text of a file a scenario in `folder` names by `rel`, inside that folder (an UnreadableFile says why not). */
export function readNamedFile(folder: string, rel: string): string {
  if (isAbsolute(rel)) throw new UnreadableFile('outside', 'must be a path relative to the scenario file\'s folder');
  return readChecked(resolve(folder, rel), { folder, max: MAX_FILE_BYTES }).toString('utf8');
}
