// Hostile input: whatever a user (or a fuzzer) hands the loader ends in a clear problem,
// fast, never a hang or a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadScenarioFile, loadScenarioText, MAX_SCENARIO_BYTES } from '../../../src/scenario/loader.ts';
import { parseAllDocuments } from 'yaml';
import { formatProblem } from '../../../src/scenario/problems.ts';
import { readNamedFile } from '../../../src/scenario/files.ts';
import { visibleControls } from '../../../src/scenario/text.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-hostile-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

test('a file over the size limit is refused before it is read', (t) => {
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(MAX_SCENARIO_BYTES)}\n`);
  const { value: r, ms } = timed(() => loadScenarioFile(big, 'big.yaml'));
  t.false(r.ok);
  if (!r.ok) t.is(formatProblem(r.problems[0]!), `big.yaml:1:1: (file): file is ${MAX_SCENARIO_BYTES + 3} bytes; a scenario file may have at most ${MAX_SCENARIO_BYTES}`);
  t.true(ms < 200, `${ms} ms`);
});

test('a directory given as a file', (t) => {
  const d = join(dir, 'folder.yaml');
  mkdirSync(d);
  const r = loadScenarioFile(d, 'folder.yaml');
  t.false(r.ok);
  if (!r.ok) t.is(formatProblem(r.problems[0]!), 'folder.yaml:1:1: (file): is a directory (expected a scenario file)');
});

test('a missing path', (t) => {
  const r = loadScenarioFile(join(dir, 'nope.yaml'), 'nope.yaml');
  t.false(r.ok);
  if (!r.ok) t.is(formatProblem(r.problems[0]!), 'nope.yaml:1:1: (file): no such file');
});

test('invalid UTF-8 is reported at its byte', (t) => {
  const p = join(dir, 'latin1.yaml');
  writeFileSync(p, Buffer.concat([Buffer.from('apiVersion: pathlab/v1\nkind: Sc'), Buffer.from([0xe9]), Buffer.from('nario\n')]));
  const r = loadScenarioFile(p, 'latin1.yaml');
  t.false(r.ok);
  if (!r.ok) t.is(formatProblem(r.problems[0]!), 'latin1.yaml:2:9: (file): not a text file: invalid UTF-8 at byte 31 (expected YAML)');
});

const deep: Array<[string, string]> = [
  ['100,000 nested flow sequences', '['.repeat(100_000)],
  ['50,000 nested block sequences', `a:\n  ${'- '.repeat(50_000)}x\n`],
  ['20,000 nested flow mappings', `${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}`],
];
for (const [name, text] of deep) {
  test(`${name}: a clear problem in under 2 s, no exception`, (t) => {
    const { value: r, ms } = timed(() => loadScenarioText(text, 'deep.yaml', dir));
    t.false(r.ok);
    if (!r.ok) t.regex(r.problems[0]!.message, /^the document is nested too deeply to read$/);
    t.true(ms < 2000, `${ms} ms`);
  });
}

test('the alias bomb is refused in well under a second', (t) => {
  const { value: r, ms } = timed(() => loadScenarioFile('test/data/malformed/alias-bomb.yaml'));
  t.false(r.ok);
  t.true(ms < 1000, `${ms} ms`);
});

// 100,000 unknown keys in a file just under the size limit: yaml's own duplicate-key check
// compared every pair of keys (50 s), and each problem looked its key up in a list (121 s in
// all). The loader must now cost no more than twice reading the YAML alone, measured here in
// the same run (AVA runs other files beside this one; bench/validate.bench.ts gives the time).
test.serial('100,000 unknown keys in a 1 MiB file: validated in at most twice the time of parsing its YAML, the first 100 named and the rest counted', (t) => {
  const base = readFileSync('test/data/malformed/_base.yaml.txt', 'utf8');
  const keys = Array.from({ length: 100_000 }, (_, i) => `x${i.toString(36)}: 1\n`).join('');
  const text = base + keys;
  t.true(Buffer.byteLength(text) <= MAX_SCENARIO_BYTES);
  // The better of two runs of each: the first pays for warming the parser up.
  const best = (fn: () => unknown) => Math.min(...[0, 1].map(() => timed(fn).ms));
  const floor = best(() => parseAllDocuments(text, { uniqueKeys: false }));
  const ms = best(() => loadScenarioText(text, 'big.yaml', dir));
  const r = loadScenarioText(text, 'big.yaml', dir);
  t.false(r.ok);
  if (r.ok) return;
  t.true(ms <= 2 * floor, `loader ${ms.toFixed(0)} ms, YAML alone ${floor.toFixed(0)} ms`);
  t.is(r.problems.length, 101);
  t.regex(formatProblem(r.problems.at(-1)!), /^big\.yaml:\d+:1: x2s: and 99900 more unknown fields from here on/);
});

test('100,000 keys that repeat one another are all found, in linear time', (t) => {
  const base = readFileSync('test/data/malformed/_base.yaml.txt', 'utf8');
  const text = base + Array.from({ length: 50_000 }, (_, i) => `k${i % 2}: 1\n`).join('');
  const t0 = performance.now();
  const r = loadScenarioText(text, 'dup.yaml', dir);
  t.true(performance.now() - t0 < 2000);
  t.false(r.ok);
  if (!r.ok) t.is(r.problems.filter((p) => /appears twice in the same mapping/.test(p.message)).length, 49_998);
});

// Files a scenario names are read as root: regular files inside the scenario's folder only, and
// what is wrong is said without their content.
test('applyFile: absolute paths, .. out of the folder, links out, FIFOs, devices and huge files are refused without reading them', (t) => {
  const folder = mkdtempSync(join(dir, 'names-'));
  symlinkSync('/etc/passwd', join(folder, 'passwd-link.yaml'));
  symlinkSync('/dev/zero', join(folder, 'zero.yaml'));
  spawnSync('mkfifo', [join(folder, 'fifo.yaml')]);
  const sparse = join(folder, 'sparse.yaml');
  writeFileSync(sparse, '');
  truncateSync(sparse, 2 * 1024 * 1024 * 1024);
  writeFileSync(join(folder, 'ok.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: ops }\n');
  const base = readFileSync('scenarios/incident-7000/outage-current.yaml', 'utf8');
  const cases: Array<[string, RegExp]> = [
    ['/etc/shadow', /must be a path relative to the scenario file's folder/],
    ['../../../../../etc/passwd', /leads out of/],
    ['passwd-link.yaml', /leads out of/],
    ['zero.yaml', /leads out of/],
    ['fifo.yaml', /is not a regular file \(a FIFO, a socket or a device\)/],
    ['sparse.yaml', /is 2147483648 bytes; at most 1048576/],
  ];
  for (const [rel, why] of cases) {
    const text = base.replace(/ {4}apply:\n(?: {6}.*\n)+/, `    applyFile: ${JSON.stringify(rel)}\n`);
    const file = join(folder, 'scenario.yaml');
    writeFileSync(file, text);
    const { value: r, ms } = timed(() => loadScenarioFile(file));
    t.false(r.ok, rel);
    const lines = r.ok ? [] : r.problems.map(formatProblem);
    t.true(lines.some((l) => /setup\[0\]\.applyFile/.test(l) && why.test(l)), `${rel}: ${lines.join('\n')}`);
    t.false(lines.join('\n').includes('root:'), 'nothing of /etc/passwd is shown');
    t.true(ms < 1000, `${rel}: ${ms} ms`);
    t.throws(() => readNamedFile(folder, rel), { message: why });
  }
  t.regex(readNamedFile(folder, 'ok.yaml'), /kind: Namespace/);
});

test('validate of a link to a file outside its folder reads nothing of it', (t) => {
  const link = join(dir, 'shadow-link.yaml');
  symlinkSync('/etc/passwd', link);
  const r = loadScenarioFile(link);
  t.false(r.ok);
  const text = r.ok ? '' : r.problems.map(formatProblem).join('\n');
  t.regex(text, /shadow-link\.yaml:1:1: \(file\): leads out of/);
  t.false(text.includes('root'));
});

test('an applyFile\'s objects get the checks an inline apply gets, and a run applies the text that was checked', (t) => {
  const folder = mkdtempSync(join(dir, 'objects-'));
  const base = readFileSync('scenarios/incident-7000/outage-current.yaml', 'utf8').replace(/ {4}apply:\n(?: {6}.*\n)+/, '    applyFile: objects.yaml\n');
  const file = join(folder, 'scenario.yaml');
  writeFileSync(file, base);
  const cases: Array<[string, RegExp]> = [
    // A name that would end up in an iptables-restore comment and a hosts file.
    ['apiVersion: v1\nkind: Service\nmetadata: { name: "x\\"\\n-A OUTPUT", namespace: frontend }\nspec: { ports: [{ port: 7000 }] }\n', /objects\.yaml, document 1: metadata\.name: must be/],
    ['apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: frontend }\nspec: { clusterIP: "1.1.1.1/0 -j ACCEPT", ports: [{ port: 7000 }] }\n', /objects\.yaml, document 1: expected an IPv4 address of the service network/],
    ['apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: seven }] }\n', /objects\.yaml, document 1: spec\.ports\[0\]\.port must be integer/],
    ['a: 1\na: 2\n', /objects\.yaml: document 1: a key appears twice/],
  ];
  for (const [objects, why] of cases) {
    writeFileSync(join(folder, 'objects.yaml'), objects);
    const r = loadScenarioFile(file);
    t.false(r.ok);
    const lines = r.ok ? '' : r.problems.map(formatProblem).join('\n');
    t.regex(lines, why, lines);
  }
  const good = 'apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: frontend }\nspec: { clusterIP: 10.96.0.115, selector: { app: web }, ports: [{ name: http-web, port: 7000, targetPort: 7000 }] }\n';
  writeFileSync(join(folder, 'objects.yaml'), good);
  const r = loadScenarioFile(file);
  t.true(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  // Swapped after the check: what the run applies is what was checked.
  writeFileSync(join(folder, 'objects.yaml'), cases[0]![0]);
  if (r.ok) t.is(r.files['objects.yaml'], good);
});

test('Unicode that can forge or garble a line is shown as escapes too: C1 controls, bidirectional overrides, line separators', (t) => {
  t.is(visibleControls('a\u202eb\u0085c\u2028d\u2066e'), 'a\\u202eb\\x85c\\u2028d\\u2066e');
});
