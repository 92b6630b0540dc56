// `pathlab validate` as a user runs it: the real bin, a real process, real exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { MALFORMED_CASES } from '../scenario/malformed-cases.ts';

function pathlab(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pathlab.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate scenarios/ exits 0 on the catalogue', (t) => {
  const r = pathlab('validate', 'scenarios/');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\d+ scenario\(s\) valid\n$/);
  t.is(r.stderr, '');
});

test('validate of the malformed corpus exits 2 with every expected line on stderr', (t) => {
  const r = pathlab('validate', 'test/data/malformed');
  t.is(r.code, 2);
  const lines = new Set(r.stderr.split('\n'));
  for (const c of MALFORMED_CASES) for (const l of c.lines) t.true(lines.has(l), l);
  t.regex(r.stderr, new RegExp(`^${MALFORMED_CASES.length} of ${MALFORMED_CASES.length} invalid`, 'm'));
  t.is(r.stdout, '');
});

test('a missing path is exit 2 and says so', (t) => {
  const r = pathlab('validate', 'scenarios/', 'no/such/dir');
  t.is(r.code, 2);
  t.regex(r.stderr, /^no\/such\/dir:1:1: \(file\): no such file or directory$/m);
});

test('two files with the same scenario name: the second is an error at its name', (t) => {
  const r = pathlab('validate', 'scenarios/incident-7000/outage-legacy.yaml', 'scenarios/incident-7000/outage-legacy.yaml');
  t.is(r.code, 2);
  t.regex(r.stderr, /outage-legacy\.yaml:\d+:9: metadata\.name: scenario name "incident-7000-outage-legacy" is already used by /);
});

test('usage errors are exit 2', (t) => {
  t.is(pathlab('validate').code, 2);
  t.is(pathlab('--no-such-flag').code, 2);
});

test('--help and --version exit 0 for the program and every command', (t) => {
  const top = pathlab('--help');
  t.is(top.code, 0);
  t.regex(top.stdout, /Usage: pathlab/);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)(?: \[options\]| <|\s{2})/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  t.true(commands.includes('validate'));
  for (const c of commands) {
    const r = pathlab(c, '--help');
    t.is(r.code, 0, c);
    t.regex(r.stdout, new RegExp(`Usage: pathlab ${c}`), c);
  }
  t.regex(pathlab('--version').stdout, /^\d+\.\d+\.\d+\n$/);
});

test('every problem of a file in one pass: a schema problem does not hide the cross-field ones of other items', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-validate-'));
  try {
    const file = join(dir, 'four-problems.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: pathlab/v1',
        'kind: Scenario',
        'metadata: {name: four, descriptoin: x, tags: [x], source: {note: x}, backends: [netns]}',
        'lab:',
        '  istio: {version: current}',
        '  pods: [{name: app, workload: echo, ports: [{port: 8080}]}]',
        'probes:',
        '  - name: p',
        '    from: {pod: nosuchpod}',
        '    tool: curl',
        '    target: {host: app, port: 8080}',
        '    expect:',
        '      outcome: reached',
        '',
      ].join('\n'),
    );
    const r = pathlab('validate', file);
    t.is(r.code, 2);
    t.regex(r.stderr, /:9:17: probes\[0\]\.from\.pod: no pod "nosuchpod" in lab\.pods/, 'cross-field');
    t.regex(r.stderr, /:3:\d+: metadata\.descriptoin: unknown field "descriptoin"/, 'schema');
    t.regex(r.stderr, /1 of 1 invalid, \d+ problem\(s\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validate checks the project\'s Lab and Mesh files, and leaves the folders\' Kubernetes manifests alone', (t) => {
  const r = pathlab('validate', 'labs/', 'scenarios/');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\d+ scenario\(s\) and 1 Lab file\(s\) and 1 Mesh file\(s\) valid \(\d+ other file\(s\) in the folders are not pathlab's: not checked\)\n$/);
  const lab = pathlab('validate', 'labs/netns/bookinfo.yaml');
  t.is(lab.code, 0, lab.stderr);
  const named = pathlab('validate', 'labs/kind-istio/kind.yaml');
  t.is(named.code, 2, 'a file named on the command line is checked, whatever it is');
});

test('a Mesh file\'s problems are reported by field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-validate-'));
  try {
    const file = join(dir, 'mesh.yaml');
    writeFileSync(file, 'apiVersion: pathlab/v1\nkind: Mesh\nmetadata: {name: m}\nera: sometime\nproxy: {ip: 10.0.0.1}\n');
    const r = pathlab('validate', file);
    t.is(r.code, 2);
    t.regex(r.stderr, /mesh\.yaml:1:1: \(Mesh\): era: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder of scenarios with their Lab file: validate checks both, run takes the scenarios and leaves the Lab file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-suite-'));
  try {
    writeFileSync(join(dir, 'lab.yaml'), 'apiVersion: pathlab/v1\nkind: Lab\nmetadata: {name: suite}\nlab:\n  istio: {version: current}\n  pods: [{name: client, workload: toolbox}, {name: web, workload: echo, ports: [{port: 8080, name: http}]}]\n  services: [{name: web, ports: [{port: 8080, name: http}]}]\n');
    writeFileSync(join(dir, 'manifest.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    writeFileSync(
      join(dir, 'client-to-web.yaml'),
      'apiVersion: pathlab/v1\nkind: Scenario\nmetadata: {name: client-to-web, description: x, tags: [x], source: {note: x}, backends: [netns]}\nlab: {file: lab.yaml}\nprobes:\n  - {name: p, from: {pod: client}, tool: http, target: {host: web, port: 8080}, expect: {outcome: reached}}\n',
    );
    const v = pathlab('validate', dir);
    t.is(v.code, 0, v.stderr);
    t.regex(v.stdout, /^1 scenario\(s\) and 1 Lab file\(s\) valid \(1 other file\(s\) in the folders are not pathlab's: not checked\)\n$/);
    const run = pathlab('run', dir, '--filter', 'no-such-scenario');
    t.is(run.code, 2);
    t.regex(run.stderr, /no scenario to run matches --filter no-such-scenario/, 'the folder loaded: its Lab file and manifest were not taken for scenarios');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
