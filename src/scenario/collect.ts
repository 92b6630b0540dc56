// Finds the scenario files under the paths a user names: files as given, folders searched
// recursively for *.yaml and *.yml (symlinked folders are not followed, so loops cannot hang it).
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readChecked } from './files.ts';

/** A file's size that fileKind still reads (the loader's limit for a scenario file: 1 MiB). */
const MAX_HEAD_READ = 1024 * 1024;

export interface Collected {
  files: string[];
  /** Files found in folders that are no scenarios: pathlab's Lab and Mesh files, other tools' YAML. */
  others: Array<{ path: string; kind: Exclude<FileKind, 'scenario' | 'unsure'> }>;
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
      if (kind === 'scenario' || kind === 'unsure') files.push(f);
      else others.push({ path: f, kind });
    }
  }
  return { files, others, missing };
}

export type FileKind = 'scenario' | 'lab' | 'mesh' | 'other' | 'unsure';

/**
 * What a YAML file is, by its first document's apiVersion and kind (read from its first 4 KiB,
 * through the loader's checked read: no FIFO or device is opened, no link leaves its folder): a
 * pathlab Scenario, Lab or Mesh, another tool's, or `unsure` (no apiVersion to tell, or not
 * readable), which a folder takes for a scenario, for the loader to say what is wrong with it.
 */
export function fileKind(file: string): FileKind {
  let head: string;
  try {
    head = readChecked(file, { folder: dirname(resolve(file)), max: MAX_HEAD_READ }).subarray(0, 4096).toString('utf8');
  } catch {
    return 'unsure';
  }
  const apiVersion = /^apiVersion:\s*["']?([^\s"'#]+)/m.exec(head)?.[1];
  const kind = /^kind:\s*["']?([^\s"'#]+)/m.exec(head)?.[1];
  if (apiVersion === undefined) return 'unsure';
  if (!apiVersion.startsWith('pathlab/')) return 'other';
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
