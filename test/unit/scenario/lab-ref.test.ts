// A scenario's lab by reference (`lab: { file: … }`): the Lab file's lab with the scenario's
// additions, loaded from the project's own Lab file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import type { LabSpec } from '../../../src/scenario/schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-labref-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const bookinfo = resolve('labs/netns/bookinfo.yaml');
const bookinfoLab = (parse(readFileSync(bookinfo, 'utf8')) as { lab: LabSpec }).lab;

function scenario(name: string, lab: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: pathlab/v1',
      'kind: Scenario',
      `metadata: {name: ${name}, description: x, tags: [x], source: {note: x}, backends: [netns]}`,
      lab,
      'probes:',
      '  - {name: p, from: {pod: extra}, tool: curl, target: {host: productpage, port: 9080}, expect: {outcome: reached}}',
      '',
    ].join('\n'),
  );
  return file;
}

test('the Lab file\'s pods, Services and hosts, with the scenario\'s added and its istio fields replacing the file\'s', (t) => {
  const file = scenario('adds', `lab:\n  file: ${relative(dir, bookinfo)}\n  istio: {interceptionMode: TPROXY}\n  pods:\n    - {name: extra, workload: toolbox}\n`);
  const r = loadScenarioFile(file);
  if (!r.ok) return t.fail(JSON.stringify(r.problems));
  const lab = r.scenario.lab;
  t.deepEqual(lab.pods.map((p) => p.name), [...bookinfoLab.pods.map((p) => p.name), 'extra']);
  t.deepEqual(lab.services, bookinfoLab.services);
  t.is(lab.istio.version, bookinfoLab.istio.version, 'the version from the Lab file');
  t.is(lab.istio.interceptionMode, 'TPROXY', 'the scenario\'s istio field');
  t.deepEqual(lab.meshConfig, bookinfoLab.meshConfig);
});

test('a reference with an unknown field, a missing file, or a Scenario for a Lab: each a problem that says so', (t) => {
  const unknown = loadScenarioFile(scenario('unknown', `lab:\n  file: ${relative(dir, bookinfo)}\n  podz: []\n`));
  t.false(unknown.ok);
  if (!unknown.ok) t.regex(unknown.problems.map((p) => `${p.field}: ${p.message}`).join('\n'), /lab\.podz: unknown field "podz" \(did you mean "pods"\?/);
  const missing = loadScenarioFile(scenario('missing', 'lab:\n  file: no-such-lab.yaml\n'));
  t.false(missing.ok);
  if (!missing.ok) t.regex(missing.problems[0]!.message, /no such file/);
  const notLab = loadScenarioFile(scenario('not-lab', `lab:\n  file: ${relative(dir, resolve('scenarios/incident-7000/outage-current.yaml'))}\n`));
  t.false(notLab.ok);
  if (!notLab.ok) t.regex(notLab.problems.map((p) => p.message).join('\n'), /is a Scenario, not a Lab file/);
});

test('the merged lab is checked as an inline one: a probe from a pod neither names is refused', (t) => {
  const file = scenario('no-pod', `lab:\n  file: ${relative(dir, bookinfo)}\n`);
  const r = loadScenarioFile(file);
  t.false(r.ok);
  if (!r.ok) t.regex(r.problems.map((p) => p.message).join('\n'), /no pod "extra"/);
});

test('lab.file names a Lab relative to the scenario; another file is named, never shown', (t) => {
  const absolute = loadScenarioFile(scenario('absolute', `lab:\n  file: ${bookinfo}\n`));
  t.false(absolute.ok);
  if (!absolute.ok) t.regex(absolute.problems[0]!.message, /a Lab file is named relative to the scenario's folder/);
  const other = loadScenarioFile(scenario('other', `lab:\n  file: ${relative(dir, resolve('labs/kind-istio/kind.yaml'))}\n`));
  t.false(other.ok);
  if (!other.ok) {
    t.is(other.problems.length, 1);
    t.regex(other.problems[0]!.message, /is not a pathlab\/v1 Lab file/);
    t.false(other.problems[0]!.message.includes('networking'), 'nothing of the file is shown');
  }
});
