// Where pathlab's own files are (the catalogue, the default labs, the schemas, the Go source it
// builds): beside this file's folder, wherever pathlab is run from or installed. Defaults are
// found here, not in the current folder, so `pathlab` works from any folder and when installed
// with npm.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path inside the package (e.g. `labs/netns/bookinfo.yaml`), absolute. */
export function packagePath(rel: string): string {
  return join(PACKAGE_ROOT, rel);
}

/** pathlab's own version, from its package.json: every report records it. */
export const PATHLAB_VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

/**
 * How to show a path of the package to the user: relative when pathlab runs from inside its own
 * folder (the checkout: `labs/netns/bookinfo.yaml`), absolute from anywhere else.
 */
export function shownPath(abs: string, cwd = process.cwd()): string {
  const inside = cwd === PACKAGE_ROOT || cwd.startsWith(`${PACKAGE_ROOT}/`);
  return inside ? relative(cwd, abs) || '.' : abs;
}
