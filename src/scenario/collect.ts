// Finds the scenario files under the paths a user names: files as given, folders searched
// recursively for *.yaml and *.yml (symlinked folders are not followed, so loops cannot hang it).
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Collected {
  files: string[];
  /** Files found in folders that are no scenarios: pathlab's Lab and Mesh files, other tools' YAML. */
  others: Array<{ path: string; kind: FileKind }>;
  /** Paths that do not exist, with the reason. */
  missing: Array<{ path: string; reason: string }>;
}

const SCENARIO_FILE = /\.ya?ml$/;

/**
 * The files under `paths`: those named as given (whatever they are: the loader says), those found
 * in folders when they are scenarios; a folder's Lab and Mesh files and other tools' YAML (a lab's
 * Kubernetes manifests) are listed apart, so that `run` and `validate` take a folder alike.
 */
export function collectScenarioFiles(paths: readonly string[]): Collected {
  const files: string[] = [];
  const others: Collected['others'] = [];
  const missing: Collected['missing'] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      missing.push({ path: p, reason: 'no such file or directory' });
      continue;
    }
    if (!st.isDirectory()) {
      files.push(p);
      continue;
    }
    const found: string[] = [];
    walk(p, found);
    for (const f of found) {
      const kind = fileKind(f);
      if (kind === 'scenario') files.push(f);
      else others.push({ path: f, kind });
    }
  }
  return { files, others, missing };
}

export type FileKind = 'scenario' | 'lab' | 'mesh' | 'other';

/**
 * What a YAML file is, by its first document's apiVersion and kind (read from its first 4 KiB):
 * a pathlab Scenario, Lab or Mesh, or another tool's. A file that says neither is taken for a
 * scenario, for the loader to say what is wrong with it.
 */
export function fileKind(file: string): FileKind {
  let head: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(4096);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'scenario';
  }
  const apiVersion = /^apiVersion:\s*["']?([^\s"'#]+)/m.exec(head)?.[1];
  const kind = /^kind:\s*["']?([^\s"'#]+)/m.exec(head)?.[1];
  if (apiVersion !== undefined && !apiVersion.startsWith('pathlab/')) return 'other';
  if (kind === 'Lab') return 'lab';
  if (kind === 'Mesh') return 'mesh';
  return 'scenario';
}

function walk(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if ((e.isFile() || e.isSymbolicLink()) && SCENARIO_FILE.test(e.name)) out.push(p);
  }
}
