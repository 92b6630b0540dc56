// Finds the scenario files under the paths a user names: files as given, folders searched
// recursively for *.yaml and *.yml (symlinked folders are not followed, so loops cannot hang it).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Collected {
  files: string[];
  /** Paths that do not exist, with the reason. */
  missing: Array<{ path: string; reason: string }>;
}

const SCENARIO_FILE = /\.ya?ml$/;

export function collectScenarioFiles(paths: readonly string[]): Collected {
  const files: string[] = [];
  const missing: Collected['missing'] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      missing.push({ path: p, reason: 'no such file or directory' });
      continue;
    }
    if (st.isDirectory()) walk(p, files);
    else files.push(p);
  }
  return { files, missing };
}

function walk(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if ((e.isFile() || e.isSymbolicLink()) && SCENARIO_FILE.test(e.name)) out.push(p);
  }
}
