// Every manifest the kind backend would apply, validated against the schemas of real
// Kubernetes and Istio: kubernetes-models 5.1.0 (the Kubernetes OpenAPI schema; it carries
// resource.k8s.io/v1 only, so Kubernetes >= 1.34; the lab runs 1.36.1) and
// @kubernetes-models/istio 3.0.1 (Istio's CRD schemas: networking.istio.io/v1,
// security.istio.io/v1, install.istio.io/v1alpha1). The schemas come from those npm packages
// (package-lock.json pins them); nothing is fetched. Istio's IstioOperator CRD preserves
// unknown fields under spec, so its check covers the envelope, not meshConfig's values.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parse } from 'yaml';
import { PROXY_UID as ISTIO_PROXY_UID } from '../../../../src/mesh/iptables/constants.ts';
import { readLabFiles } from '../../../../src/lab/kind/kind-lab.ts';
import { CAPTURE_CONTAINER, captureContainer } from '../../../../src/lab/kind/evidence.ts';
import { labelAndPin, parseManifestText, scenarioSetupObjects, type K8sObject } from '../../../../src/lab/kind/manifests.ts';
import { planKindLab } from '../../../../src/lab/kind/plan.ts';
import { IMAGES, imageRef, kindPins } from '../../../../src/lab/kind/versions.ts';
import { collectScenarioFiles } from '../../../../src/scenario/collect.ts';
import { planKindRun } from '../../../../src/lab/kind/run-plan.ts';
import { kindBackend } from '../../../../src/lab/kind/backend.ts';
import { loadedScenario } from '../../../../src/scenario/loaded.ts';
import { clusterBackend, planClusterRun } from '../../../../src/lab/cluster/backend.ts';
import { relocate } from '../../../../src/lab/cluster/relocate.ts';
import { nodeDebugPod } from '../../../../src/lab/cluster/node-debug.ts';
import { loadScenarioFile } from '../../../../src/scenario/loader.ts';
import { LAB_ISTIO_OBJECTS } from '../../../../src/istio/istiod-gen.ts';

type Model = new (o: unknown) => { validate(): void };

/** The model class of an object, from kubernetes-models or @kubernetes-models/istio. */
async function modelFor(o: K8sObject): Promise<Model> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const path = group!.endsWith('istio.io') ? `@kubernetes-models/istio/${group}/${version}/${o.kind}` : `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
  const mod = (await import(path)) as Record<string, Model>;
  const cls = mod[o.kind];
  if (!cls) throw new Error(`no model ${o.kind} in ${path}`);
  return cls;
}

async function validate(o: K8sObject): Promise<string | undefined> {
  const Cls = await modelFor(o);
  try {
    new Cls(o).validate();
    return undefined;
  } catch (e) {
    return `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}: ${(e as Error).message}`;
  }
}

/** The files a run plan writes that are Kubernetes objects (not the echo app, not a compose file of external hosts). */
const isManifestFile = (path: string) => path.endsWith('.yaml') && !path.endsWith('.compose.yaml');

function catalogue() {
  const { files } = collectScenarioFiles(['scenarios']);
  return files.map((f) => {
    const r = loadScenarioFile(f);
    if (!r.ok) throw new Error(`${f} must load`);
    return r.scenario;
  });
}

const sources: Record<string, () => K8sObject[]> = {
  'labs/kind-istio (as the plan applies them, labelled and pinned)': () =>
    planKindLab({ id: 'a1b2c3', pins: kindPins('linux-amd64'), labFiles: readLabFiles(), cacheDir: '/c' }).manifests.flatMap((m) => m.objects),
  'each scenario lab rendered for kind': () =>
    catalogue().flatMap((s) =>
      planKindLab({ id: 'a1b2c3', pins: kindPins('linux-amd64'), labFiles: readLabFiles(), cacheDir: '/c', scenario: s })
        .manifests.filter((m) => m.name.startsWith('scenario:'))
        .flatMap((m) => m.objects),
    ),
  "each scenario's setup resources, labelled for kind": () =>
    catalogue().flatMap((s) => scenarioSetupObjects(s).map((x) => labelAndPin(x.object, 'a1b2c3', IMAGES))),
  'every manifest `pathlab run --backend kind --check-fault` applies or deletes, as its plan has them': () =>
    planKindRun({ scenarios: catalogue().filter((s) => kindBackend.unsupported(s) === undefined).map((scenario) => loadedScenario(`scenarios/x/${scenario.metadata.name}.yaml`, scenario)), id: 'a1b2c3', pins: kindPins('linux-amd64'), cacheDir: '/c', checkFault: true })
      .flatMap((sec) => sec.steps)
      .flatMap((st) => (st.kind === 'run' && st.input !== undefined ? parseManifestText('run plan', st.input) : st.kind === 'write' && isManifestFile(st.path) ? parseManifestText(st.path, st.content) : [])),
  'every manifest `pathlab run --backend cluster` applies, and its node debug pod': () => [
    ...planClusterRun(catalogue().filter((s) => clusterBackend.unsupported(s) === undefined).map((scenario) => relocate(loadedScenario(`scenarios/x/${scenario.metadata.name}.yaml`, scenario), 'r1')), { id: 'r1', context: 'staging', cacheDir: '/c', checkFault: true })
      .flatMap((sec) => sec.steps)
      .flatMap((st) => (st.kind === 'run' && st.input !== undefined ? parseManifestText('cluster run plan', st.input) : st.kind === 'write' && isManifestFile(st.path) ? parseManifestText(st.path, st.content) : [])),
    nodeDebugPod('node-a', 'pathlab-r1-nodes', imageRef(IMAGES.toolbox), 'r1') as K8sObject,
  ],
  "the netns lab's own objects for its istiod (DestinationRule, EnvoyFilters)": () => LAB_ISTIO_OBJECTS.map((o) => o as unknown as K8sObject),
  'labs/incident-7000 (fixes and the mesh resources)': () => {
    const out: K8sObject[] = [];
    for (const f of ['fix-serviceentry.yaml', 'fix-sidecar.yaml', 'tcp-serviceentry-no-address.yaml'])
      out.push(...parseManifestText(f, readFileSync(`labs/incident-7000/${f}`, 'utf8')));
    out.push(...(parse(readFileSync('labs/incident-7000/mesh.yaml', 'utf8')) as { resources: K8sObject[] }).resources);
    return out;
  },
};

for (const [name, objects] of Object.entries(sources)) {
  test(`schemas: ${name}`, async (t) => {
    const objs = objects();
    t.true(objs.length > 0, 'something to validate');
    const problems = (await Promise.all(objs.map(validate))).filter((p): p is string => p !== undefined);
    t.deepEqual(problems, []);
    t.log(`${objs.length} objects: ${[...new Set(objs.map((o) => o.kind))].join(', ')}`);
  });
}

test('schemas: the tcpdump ephemeral container is a valid EphemeralContainer', async (t) => {
  const { EphemeralContainer } = await import('kubernetes-models/v1/EphemeralContainer');
  const c = captureContainer(CAPTURE_CONTAINER, imageRef(IMAGES.toolbox));
  t.notThrows(() => new EphemeralContainer(c).validate());
  t.is(c.securityContext.runAsUser, 0, `capture runs as root, not ${ISTIO_PROXY_UID}: see evidence.ts`);
});

// The validators must be able to fail, or the tests above prove nothing.
const broken: Array<[string, K8sObject]> = [
  ['a Service port that is not a number', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 'http' }] } }],
  ['a Deployment without a selector', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } }],
  ['a ServiceEntry with an unknown resolution', { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'x' }, spec: { hosts: ['a.example.com'], resolution: 'BOGUS' } }],
  ['a Sidecar whose egress hosts is not a list', { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'x' }, spec: { egress: [{ hosts: './*' }] } }],
];
for (const [name, o] of broken) {
  test(`schemas reject ${name}`, async (t) => {
    t.truthy(await validate(o));
  });
}
