// A scenario's setup on kind (apply / annotate / mesh config, each with its revert, in
// reverse order) and the wait for the sidecar's listeners, read from real config_dumps of
// Istio's repository (../shared/fixtures/envoy).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { listenerSnapshot, waitForListeners } from '../../../../src/mesh/envoy/listener-wait.ts';
import { readLabFiles } from '../../../../src/lab/kind/kind-lab.ts';
import { parseManifestText } from '../../../../src/lab/kind/manifests.ts';
import { formatKindPlan } from '../../../../src/lab/kind/plan.ts';
import { planScenarioSetup } from '../../../../src/lab/kind/setup.ts';
import { kindPins } from '../../../../src/lab/kind/versions.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';
import type { Scenario } from '../../../../src/scenario/schema.ts';
import { readFixture } from '../../../helpers/fixtures.ts';

const FILE = 'scenarios/incident-7000/outage-legacy.yaml';
function scenario(): Scenario {
  const r = loadScenarioFile(FILE);
  if (!r.ok) throw new Error('must load');
  return r.scenario;
}
const operatorBase = parseManifestText('istio-operator.yaml', readLabFiles()['istio-operator.yaml']!)[0]!;
const base = { id: 'a1b2c3', scenarioFile: FILE, readFile: (p: string) => readFileSync(p, 'utf8'), pins: kindPins('linux-amd64'), cacheDir: '/c', operatorBase };

test('the catalogue scenario: its fault Service is applied server-side with the lab label, and deleted on revert', (t) => {
  const p = planScenarioSetup({ ...base, scenario: scenario() });
  t.is(p.apply.length, 1);
  const a = p.apply[0]!;
  t.true(a.kind === 'run' && a.argv.join(' ') === 'kubectl --context kind-pathlab-a1b2c3 apply --server-side --field-manager=pathlab --force-conflicts -f -');
  t.regex(a.kind === 'run' ? (a.input ?? '') : '', /name: web\n {2}namespace: frontend\n {2}labels:\n {4}pathlab\.dev\/lab: a1b2c3\n/);
  const r = p.revert[0]!;
  t.true(r.kind === 'run' && r.argv.join(' ') === 'kubectl --context kind-pathlab-a1b2c3 delete --ignore-not-found --wait -f -');
  t.is(r.kind === 'run' ? r.input : '', a.kind === 'run' ? a.input : 'x');
});

test('--check-fault: without fault and fix roles nothing of the catalogue scenario is applied', (t) => {
  const p = planScenarioSetup({ ...base, scenario: scenario(), mode: 'without-change' });
  t.deepEqual(p.apply, []);
  t.deepEqual(p.revert, []);
});

test('annotate, mesh config and applyFile: each applied in order, reverted in reverse, annotations restored to the lab values', (t) => {
  const s = scenario();
  const withSteps: Scenario = {
    ...s,
    lab: { ...s.lab, pods: s.lab.pods.map((p) => (p.name === 'app' ? { ...p, annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '6379' } } : p)) },
    setup: [
      { role: 'fix', annotate: { pod: 'app', annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '7000' } } },
      { role: 'fault', meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } },
      { role: 'fix', applyFile: '../../labs/incident-7000/fix-serviceentry.yaml' },
    ],
  };
  const p = planScenarioSetup({ ...base, scenario: withSteps });
  const text = formatKindPlan({ steps: p.apply });
  t.regex(text, /kubectl --context kind-pathlab-a1b2c3 -n default patch deployment\/app --type=merge -p '\{"spec":\{"template":\{"metadata":\{"annotations":\{"traffic\.sidecar\.istio\.io\/excludeOutboundPorts":"7000"\}\}\}\}\}'/);
  t.regex(text, /rollout status deployment\/app/);
  t.regex(text, /mode: REGISTRY_ONLY/);
  t.regex(text, /\/c\/istioctl\/1\.30\.3\/istioctl install --context kind-pathlab-a1b2c3 -f \/c\/labs\/a1b2c3\/istio-operator\.setup-1\.yaml -y/);
  t.regex(text, /kind: ServiceEntry[\s\S]*pathlab\.dev\/lab: a1b2c3/);
  const revert = formatKindPlan({ steps: p.revert });
  const order = ['delete setup[2]', "restore the lab's mesh config", "restore app's annotations"].map((w) => revert.indexOf(w));
  t.true(order.every((x, i) => x >= 0 && (i === 0 || x > order[i - 1]!)), revert);
  t.regex(revert, /"traffic\.sidecar\.istio\.io\/excludeOutboundPorts":"6379"/);
  t.regex(revert, /mode: ALLOW_ANY/);
});

test('listenerSnapshot: the 2023 sidecar dump (v3, snake_case) lists virtualOutbound and 0.0.0.0_9080, with its LDS version', (t) => {
  const s = listenerSnapshot(JSON.parse(readFixture('envoy/configdump.yaml')));
  t.is(s.versionInfo, '2023-06-20T09:08:58Z/4');
  t.true(s.names.includes('virtualOutbound'));
  t.true(s.names.includes('0.0.0.0_9080'));
  t.true(s.names.includes('10.96.0.1_443'));
});

test('listenerSnapshot: the Istio 1.1 productpage dump (v2) has the old catch-all "virtual"', (t) => {
  const s = listenerSnapshot(JSON.parse(readFixture('envoy/productpage_config_dump.json')));
  t.is(s.versionInfo, '2019-04-02T20:47:51Z/31');
  t.true(s.names.includes('virtual'));
  t.false(s.names.includes('virtualOutbound'));
  t.true(s.names.includes('0.0.0.0_9080'));
});

test('listenerSnapshot rejects what is not a config_dump', (t) => {
  t.throws(() => listenerSnapshot({ listeners: [] }), { message: /not an Envoy config_dump/ });
});

test('waitForListeners polls until the expected listener appears and reports the version it saw', async (t) => {
  const before = readFixture('envoy/productpage_config_dump.json');
  const after = readFixture('envoy/configdump.yaml');
  let calls = 0;
  const r = await waitForListeners(async () => (++calls < 3 ? before : after), { expected: ['virtualOutbound', '0.0.0.0_9080'], absent: ['virtual'] }, { sleep: async () => {}, timeoutMs: 10_000 });
  t.true(r.ok);
  t.is(r.polls, 3);
  t.is(r.snapshot.versionInfo, '2023-06-20T09:08:58Z/4');
});

test('waitForListeners gives up at the deadline and names what is missing', async (t) => {
  let clock = 0;
  const dump = readFixture('envoy/configdump.yaml');
  const r = await waitForListeners(async () => dump, { expected: ['0.0.0.0_7000'], absent: ['virtualOutbound'] }, { timeoutMs: 5000, intervalMs: 1000, sleep: async (ms) => void (clock += ms), now: () => clock });
  t.false(r.ok);
  t.deepEqual(r.missing, ['0.0.0.0_7000', '!virtualOutbound']);
  t.is(r.polls, 6);
});
