// The cluster backend's run, planned on the catalogue: every scenario it runs moved into the run's
// own namespaces (nothing left in a namespace of the user's, Envoy cluster names and hosts moved
// with them), everything made in the first section and deleted in the last, every kubectl call
// naming the context, no Docker anywhere, node commands in node debug pods, and the guard:
// without --i-know-this-is-not-a-lab the dry run says the real run would be refused.
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { main } from '../../../../src/cli/main.ts';
import { bufferIo } from '../../../../src/cli/io.ts';
import { clusterBackend, planClusterRun } from '../../../../src/lab/cluster/backend.ts';
import { relocate, relocationProblem, runNamespace, scenarioNamespaces } from '../../../../src/lab/cluster/relocate.ts';
import { collectScenarioFiles } from '../../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';
import type { LoadedScenario } from '../../../../src/scenario/loaded.ts';

function catalogue(): LoadedScenario[] {
  return collectScenarioFiles(['scenarios']).files.map((f) => {
    const r = loadScenarioFile(f);
    if (!r.ok) throw new Error(`${f} must load`);
    return { file: f, scenario: r.scenario, expected: r.expected, files: r.files };
  });
}
const forCluster = () => catalogue().filter((s) => clusterBackend.unsupported(s.scenario) === undefined);

async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('the catalogue\'s scenarios for a cluster: the kind ones that need no external host, no mesh config change and nothing in istio-system', (t) => {
  const names = forCluster().map((s) => s.scenario.metadata.name).sort();
  t.true(names.length >= 7, names.join(' '));
  t.true(names.includes('bookinfo-productpage-details') && names.includes('envoy-plaintext-to-strict'));
  const byName = new Map(catalogue().map((s) => [s.scenario.metadata.name, s]));
  t.regex(clusterBackend.unsupported(byName.get('incident-7000-outage-current')!.scenario) ?? '', /^it needs external hosts \(redis at 10\.0\.0\.6\), which run beside a kind lab/);
  const strict = byName.get('envoy-plaintext-to-strict')!.scenario;
  t.regex(clusterBackend.unsupported({ ...strict, lab: { ...strict.lab, meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } } }) ?? '', /^it sets the mesh config, which on a cluster that is not a lab is the cluster's own$/);
  t.regex(clusterBackend.unsupported(byName.get('injection-istio-init-1-2')!.scenario) ?? '', /this scenario's lab is Istio 1\.2/);
});

test('relocation: every namespace the scenario names becomes pathlab-<run>-<name>, and every place it says that namespace follows', (t) => {
  for (const s of forCluster()) {
    const moved = relocate(s, 'r1');
    const namespaces = scenarioNamespaces(moved);
    t.true(namespaces.every((ns) => ns.startsWith('pathlab-r1-')), `${s.scenario.metadata.name}: ${namespaces.join(' ')}`);
    t.deepEqual(namespaces, scenarioNamespaces(s).map((ns) => runNamespace('r1', ns)).sort());
    const text = JSON.stringify(moved.scenario) + Object.values(moved.files).join('\n');
    for (const ns of scenarioNamespaces(s)) {
      t.notRegex(text, new RegExp(`\\.${ns}\\.svc\\b|"namespace":"${ns}"|namespace: ${ns}\\n`), `${s.scenario.metadata.name} still names ${ns}`);
    }
    // The expected hops are parsed again from the moved text: what the runner checks is what the cluster has.
    t.is(moved.expected.length, moved.scenario.probes.length);
  }
  const details = relocate(catalogue().find((s) => s.scenario.metadata.name === 'bookinfo-productpage-details')!, 'r1');
  t.true(JSON.stringify(details.expected).includes('details.pathlab-r1-default.svc.cluster.local'), JSON.stringify(details.expected));
});

test('relocation: Sidecar hosts ns/host, exportTo entries and short host names move; another namespace\'s do not', (t) => {
  const base = catalogue().find((s) => s.scenario.metadata.name === 'envoy-plaintext-to-strict')!;
  const s: LoadedScenario = {
    ...base,
    scenario: {
      ...base.scenario,
      setup: [
        { role: 'fault', apply: { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'egress' }, spec: { egress: [{ hosts: ['default/*', 'istio-system/*', './ratings.default.svc.cluster.local'] }] } } },
        { role: 'fault', apply: { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'se', namespace: 'default' }, spec: { hosts: ['db.default'], exportTo: ['default', '.'] } } },
      ],
    },
  };
  const moved = relocate(s, 'r1');
  const [sidecar, se] = (moved.scenario.setup ?? []).map((st) => st.apply as unknown as { metadata: { namespace: string }; spec: Record<string, unknown> });
  t.is(sidecar!.metadata.namespace, 'pathlab-r1-default');
  t.deepEqual(sidecar!.spec, { egress: [{ hosts: ['pathlab-r1-default/*', 'istio-system/*', './ratings.pathlab-r1-default.svc.cluster.local'] }] });
  t.deepEqual(se!.spec, { hosts: ['db.default'], exportTo: ['pathlab-r1-default', '.'] });
  t.regex(relocationProblem({ ...s, scenario: { ...s.scenario, setup: [{ apply: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' } } }] } }, 'r1') ?? '', /^its setup applies PeerAuthentication default in istio-system, which acts on the whole cluster or mesh$/);
  t.regex(relocationProblem(s, 'a'.repeat(60)) ?? '', /longer than Kubernetes' 63 characters/);
});

test('the run plan: namespaces made first and deleted last, each labelled with the run; no Docker; every kubectl names the context; node commands in node debug pods', (t) => {
  const scenarios = forCluster().map((s) => relocate(s, 'r1'));
  const sections = planClusterRun(scenarios, { id: 'r1', context: 'staging', cacheDir: '/c' });
  const first = sections[0]!;
  const last = sections.at(-1)!;
  const made = first.steps[0]!.kind === 'run' ? parseAllDocuments(first.steps[0]!.input ?? '').map((d) => d.toJS() as { kind: string; metadata: { name: string; labels: Record<string, string> } }) : [];
  t.true(made.length > 1 && made.every((o) => o.kind === 'Namespace' && o.metadata.name.startsWith('pathlab-r1-') && o.metadata.labels['pathlab.dev/lab'] === 'r1' && o.metadata.labels['pod-security.kubernetes.io/enforce'] === 'privileged'));
  t.deepEqual(last.steps.map((st) => (st.kind === 'run' ? st.argv : [])), [
    ['kubectl', '--context', 'staging', 'delete', 'namespace', ...made.map((o) => o.metadata.name), '--ignore-not-found', '--wait=true', '--timeout=300s'],
    ['rm', '-rf', '--', '/c/labs/r1'],
  ]);
  // Besides removing its own files, the run runs nothing but kubectl on this machine.
  const runs = sections.flatMap((sec) => sec.steps).filter((st) => st.kind === 'run' && st.argv[0] !== 'rm');
  t.true(runs.length > 0);
  for (const st of runs) {
    if (st.kind !== 'run') continue;
    t.is(st.argv[0], 'kubectl', st.argv.join(' '));
    t.deepEqual(st.argv.slice(1, 3), ['--context', 'staging']);
  }
  // Every object a step applies is in one of the run's namespaces.
  for (const st of runs) {
    if (st.kind !== 'run' || st.input === undefined) continue;
    for (const d of parseAllDocuments(st.input)) {
      const o = d.toJS() as { kind: string; metadata: { name: string; namespace?: string } };
      t.true(o.kind === 'Namespace' ? o.metadata.name.startsWith('pathlab-r1-') : (o.metadata.namespace ?? '').startsWith('pathlab-r1-'), `${o.kind} ${o.metadata.name} in ${o.metadata.namespace}`);
    }
  }
  const nodeSteps = sections.flatMap((sec) => sec.steps).filter((st) => st.kind === 'exec' && st.target.includes('<node debug pod on '));
  t.true(nodeSteps.length > 0);
  t.true(nodeSteps.every((st) => st.kind === 'exec' && st.target.startsWith('pathlab-r1-nodes/')));
});

test('run --backend cluster --dry-run: the guard\'s refusal without --i-know-this-is-not-a-lab, none with it; options it does not take are bad input', async (t) => {
  const refused = await run(['run', 'scenarios/envoy/', '--backend', 'cluster', '--context', 'staging', '--dry-run']);
  t.is(refused.code, 0, refused.err);
  t.regex(refused.out, /^# the real run would be refused: context "staging" is not a pathlab lab: nothing is applied without --context staging --i-know-this-is-not-a-lab/);
  t.regex(refused.out, /^== remove the run's namespaces \(run dryrun\)$/m);
  const vouched = await run(['run', 'scenarios/envoy/', '--backend', 'cluster', '--context', 'staging', '--i-know-this-is-not-a-lab', '--dry-run']);
  t.is(vouched.code, 0, vouched.err);
  t.regex(vouched.out, /^== the run's namespaces \(run dryrun\)$/m);
  t.notRegex(vouched.out, /would be refused/);
  const noContext = await run(['run', '--backend', 'cluster', '--dry-run']);
  t.is(noContext.code, 2);
  t.regex(noContext.err, /--backend cluster runs on the cluster a kubeconfig context names: give --context <name>/);
  const version = await run(['run', '--backend', 'cluster', '--context', 'staging', '--istio-version', '1.29', '--dry-run']);
  t.is(version.code, 2);
});
