// Files a scenario names (applyFile) and scenario files found in folders are untrusted input
// read by a process with root: each must be a regular file inside the folder that names it
// (no absolute path, no `..` out of it, a symlink resolved and checked), no FIFO or device,
// and no larger than a scenario file may be. What is wrong is said without the file's content.
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

/** The size of the largest file a scenario or what it names may be. */
export const MAX_FILE_BYTES = 1024 * 1024;

/** Why `path` is no file a scenario may read (with `folder` the folder it must stay in), or undefined. */
export function fileProblem(path: string, folder: string): string | undefined {
  let real: string;
  let st;
  try {
    real = realpathSync(path);
    st = statSync(real);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return lstatExists(path) ? 'is a link to nothing' : 'no such file';
    if (code === 'EACCES') return 'permission denied';
    return `cannot read: ${code ?? (e as Error).message}`;
  }
  let base: string;
  try {
    base = realpathSync(folder);
  } catch {
    base = resolve(folder);
  }
  if (real !== base && !real.startsWith(base.endsWith(sep) ? base : `${base}${sep}`)) return `leads out of ${relative(process.cwd(), base) || '.'} (a link or path to a file elsewhere)`;
  if (st.isDirectory()) return 'is a directory (expected a YAML file)';
  if (!st.isFile()) return 'is not a regular file (a FIFO, a socket or a device)';
  if (st.size > MAX_FILE_BYTES) return `is ${st.size} bytes; at most ${MAX_FILE_BYTES}`;
  return undefined;
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Why a file a scenario names by `rel` is not one it may read, or undefined. */
export function namedFileProblem(scenarioFile: string, rel: string): string | undefined {
  if (isAbsolute(rel)) return 'must be a path relative to the scenario file\'s folder';
  const folder = dirname(resolve(scenarioFile));
  return fileProblem(resolve(folder, rel), folder);
}

/** The text of a file a scenario names, after the checks of namedFileProblem (it throws with the reason). */
export function readNamedFile(scenarioFile: string, rel: string): string {
  const why = namedFileProblem(scenarioFile, rel);
  if (why) throw new Error(`${rel}: ${why}`);
  return readFileSync(resolve(dirname(resolve(scenarioFile)), rel), 'utf8');
}
