// The lab's in-namespace processes (the echo app, the sidecar model) are TypeScript. Each
// process would pay tsx's ~250 ms start-up, so the lab bundles them once into plain ES
// modules with esbuild (already the engine under tsx) and caches the result by content.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const AGENTS = ['echo-app', 'sidecar'] as const;
export type AgentName = (typeof AGENTS)[number];

/** A hash of every source file the agents may import (this folder, the lab's sidecar and src/mesh). */
function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) h.update(p).update(readFileSync(p));
    }
  };
  // The layout of the cache folder (v3: koffi and its native platform package copied beside the agents).
  h.update('layout v3');
  walk(here);
  walk(join(here, '../sidecar'));
  walk(join(here, '../../../mesh'));
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
      { in: join(here, '../sidecar/sidecar.ts'), out: 'sidecar' },
    ],
    // koffi loads a native library: it stays outside the bundle, copied beside it below.
    external: ['koffi'],
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  // The agents run as the proxy and app uids, which may not read the checkout (a home folder of
  // mode 700): what they load at run time lives in the cache folder with them.
  // koffi finds its native module in its platform package (@koromix/koffi-<os>-<arch>), beside it.
  const koffi = dirname(createRequire(import.meta.url).resolve('koffi'));
  cpSync(koffi, join(tmp, 'node_modules', 'koffi'), { recursive: true });
  const native = join(dirname(koffi), '@koromix');
  if (existsSync(native)) cpSync(native, join(tmp, 'node_modules', '@koromix'), { recursive: true });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch {
    // another lab built the same source at the same moment: its copy is as good
  }
  return out;
}
