// The rooms of src/ and what each may import (DESIGN.md, "Where things live"), read from the
// source with TypeScript's own import scanner: pure rooms import only pure rooms and nothing
// that spawns a process or opens a socket; the runner never imports a backend; no import cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'ava';
import ts from 'typescript';

const SRC = resolve('src');
const PURE = ['scenario', 'paths', 'mesh', 'probes', 'report'];
/** What each room may import, beside itself. */
const MAY_IMPORT: Record<string, string[]> = {
  scenario: ['paths', 'probes', 'mesh'],
  paths: ['mesh', 'probes', 'scenario'],
  mesh: [],
  probes: ['mesh'],
  report: ['paths', 'scenario'],
  run: [...PURE],
  lab: [...PURE, 'run', 'istio'],
  // The real Istio parts (pinned versions, installing Envoy): they run programs through the lab's process runner.
  istio: [...PURE, 'lab'],
  cli: [...PURE, 'run', 'lab', 'istio'],
};
/** Modules that run programs or talk over the network: only src/lab and src/cli (and scripts/) use them. */
const SYSTEM = /^(node:)?(child_process|net|tls|http|https|http2|dgram|dns|cluster|worker_threads)$|^(zx|ws|testcontainers|@kubernetes\/client-node)(\/|$)/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = sourceFiles(SRC);
const roomOf = (file: string) => relative(SRC, file).split('/')[0]!;
const imports = new Map<string, { local: string[]; packages: string[] }>();
for (const f of files) {
  const info = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
  const specs = info.importedFiles.map((i) => i.fileName);
  imports.set(f, {
    local: specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(f), s)),
    packages: specs.filter((s) => !s.startsWith('.')),
  });
}

test('every room imports only the rooms it may (src/run and src/paths never import src/lab)', (t) => {
  const wrong: string[] = [];
  for (const [f, { local }] of imports) {
    const room = roomOf(f);
    for (const target of local) {
      const to = roomOf(target);
      if (to !== room && !(MAY_IMPORT[room] ?? []).includes(to)) wrong.push(`${relative(SRC, f)} imports ${relative(SRC, target)}`);
    }
  }
  t.deepEqual(wrong, []);
  t.true(files.length > 50, 'the scan found the source');
});

test('the runner, the path logic and the probe tools read no file either: the lab hands them what it read', (t) => {
  const wrong = [...imports].filter(([f]) => ['run', 'paths', 'probes'].includes(roomOf(f))).flatMap(([f, { packages }]) => packages.filter((p) => /^(node:)?fs(\/promises)?$/.test(p)).map((p) => `${relative(SRC, f)} imports ${p}`));
  t.deepEqual(wrong, []);
});

test('pure rooms and the runner spawn nothing and open no socket', (t) => {
  const wrong: string[] = [];
  for (const [f, { packages }] of imports) {
    if (![...PURE, 'run'].includes(roomOf(f))) continue;
    for (const p of packages) if (SYSTEM.test(p)) wrong.push(`${relative(SRC, f)} imports ${p}`);
  }
  t.deepEqual(wrong, []);
  // The scanner sees what the rule is about: the lab does import these.
  t.true([...imports].some(([f, { packages }]) => roomOf(f) === 'lab' && packages.some((p) => SYSTEM.test(p))));
});

test('no import cycle between source files', (t) => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].map((x) => relative(SRC, x)).join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const g of imports.get(f)?.local ?? []) if (imports.has(g)) visit(g, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  t.deepEqual(cycles, []);
});
