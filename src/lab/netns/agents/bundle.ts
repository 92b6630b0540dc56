// The lab's in-namespace processes (the echo app) are TypeScript. Each
// process would pay tsx's ~250 ms start-up, so the lab bundles them once into plain ES
// modules with esbuild (already the engine under tsx) and caches the result by content.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const AGENTS = ['echo-app'] as const;
export type AgentName = (typeof AGENTS)[number];

/** A hash of every source file the agents may import (this folder). */
function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) h.update(p).update(readFileSync(p));
    }
  };
  h.update('layout v4');
  walk(here);
  return h.digest('hex').slice(0, 16);
}

/** Paths of the bundled agents, building them into `cacheDir` if this source has not been built. */
export function bundledAgents(cacheDir: string): Record<AgentName, string> {
  const dir = join(cacheDir, sourceHash());
  const out = Object.fromEntries(AGENTS.map((a) => [a, join(dir, `${a}.mjs`)])) as Record<AgentName, string>;
  if (AGENTS.every((a) => existsSync(out[a]))) return out;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  buildSync({
    entryPoints: [
      { in: join(here, 'echo-app.ts'), out: 'echo-app' },
    ],
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch {
    // another lab built the same source at the same moment: its copy is as good
  }
  return out;
}
