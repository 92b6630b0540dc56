// The evidence folder of `pathlab run --out DIR` on disk: the runner's bundles (src/run/bundle.ts)
// read and write their files through it, by paths relative to DIR, and never outside it.
import { mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { EvidenceFolder } from '../run/backend.ts';

export function evidenceFolder(dir: string): EvidenceFolder {
  const root = resolve(dir);
  const abs = (rel: string): string => {
    const p = resolve(root, rel);
    const r = relative(root, p);
    if (r === '' || r.startsWith('..') || isAbsolute(r)) throw new Error(`${rel}: not a path inside ${dir}`);
    return p;
  };
  const pathOf = (rel: string): string => {
    const p = abs(rel);
    // Another lab's probe may be removing the empty folders above at this moment: make them again.
    for (let i = 0; ; i++) {
      try {
        mkdirSync(dirname(p), { recursive: true });
        return p;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || i >= 2) throw e;
      }
    }
  };
  return {
    pathOf,
    write: (rel, text) => writeFileSync(pathOf(rel), text),
    list: (rel) => {
      try {
        return readdirSync(abs(rel));
      } catch {
        return [];
      }
    },
    remove: (rel) => {
      const p = abs(rel);
      rmSync(p, { recursive: true, force: true });
      // The folders above it that are now empty, up to DIR (kept).
      for (let d = dirname(p); d !== root && d.startsWith(root + sep); d = dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          break; // not empty (or gone): the ones above are not empty either
        }
      }
    },
  };
}
