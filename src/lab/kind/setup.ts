// A scenario's setup on a running kind lab, as steps (pure): server-side apply of its
// resources, pod annotations followed by a rollout and a wait, mesh config changes through
// istioctl; and the steps that revert each, in reverse order. Before probing, the runner waits
// until the sidecar's config_dump shows the expected listeners (listener-wait.ts).
import { dirname, join } from 'node:path';
import { stepsFor, type RunMode } from '../../scenario/setup-roles.ts';
import type { Scenario } from '../../scenario/schema.ts';
import { FIELD_MANAGER, contextName } from './labels.ts';
import { istioOperatorFor, labelAndPin, parseManifestText, renderManifest, type K8sObject, type Manifest } from './manifests.ts';
import { ROLLOUT_TIMEOUT, istioctlPath, labStateDir, type KindStep } from './plan.ts';
import type { KindPins } from './versions.ts';


export interface SetupPlanInput {
  id: string;
  scenario: Scenario;
  /** Path of the scenario file: applyFile is relative to it. */
  scenarioFile: string;
  /** The applyFile texts as the loader read and checked them (LoadedScenario.files): what is applied. */
  files?: Readonly<Record<string, string>>;
  /** How to read an applyFile instead (tests). */
  readFile?: (path: string) => string;
  pins: KindPins;
  cacheDir: string;
  /** labs/kind-istio/istio-operator.yaml, parsed. */
  operatorBase: K8sObject;
  /** The kubeconfig context the steps name (the lab's own, kind-pathlab-<id>, when unset). */
  context?: string;
  /** The run's mode: `without-change` (--check-fault's second run) leaves out the change (stepsFor decides, as for every backend). */
  mode?: RunMode;
}

export interface SetupPlan {
  apply: KindStep[];
  /** Undoes `apply`, last change first. */
  revert: KindStep[];
  manifests: Manifest[];
}

export function planScenarioSetup(input: SetupPlanInput): SetupPlan {
  const { id, scenario } = input;
  const ctx = input.context ?? contextName(id);
  const kubectl = (...args: string[]) => ['kubectl', '--context', ctx, ...args];
  const istioctl = istioctlPath(input.cacheDir, input.pins.istioVersion);
  const state = labStateDir(input.cacheDir, id);
  const apply: KindStep[] = [];
  const revertLifo: KindStep[][] = [];
  const manifests: Manifest[] = [];
  const created = new Set<string>();
  const podNs = (pod: string) => scenario.lab.pods.find((p) => p.name === pod)?.namespace ?? 'default';

  const chosen = new Set(stepsFor(scenario, input.mode ?? 'with-setup'));
  (scenario.setup ?? []).forEach((step, i) => {
    if (!chosen.has(step)) return;
    const name = `setup[${i}]${step.description ? ` (${step.description})` : ''}`;
    let objects: K8sObject[] | undefined;
    if (step.apply) objects = [step.apply as unknown as K8sObject];
    if (step.applyFile) {
      const path = join(dirname(input.scenarioFile), step.applyFile);
      const text = input.readFile ? input.readFile(path) : input.files?.[step.applyFile];
      if (text === undefined) throw new Error(`${step.applyFile}: not read when the scenario was loaded`);
      objects = parseManifestText(path, text);
    }
    if (objects) {
      // A namespace the lab does not have is created with the resources and deleted with them.
      const have = new Set(['default', 'istio-system', ...scenario.lab.pods.map((p) => p.namespace ?? 'default'), ...created]);
      const missing = [...new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined && !have.has(n)))];
      missing.forEach((n) => created.add(n));
      const namespaces: K8sObject[] = missing.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
      const labelled = [...namespaces, ...objects].map((o) => labelAndPin(o, id, input.pins.images));
      const text = renderManifest(labelled);
      manifests.push({ name, objects: labelled });
      apply.push({ kind: 'run', what: `apply ${name}`, argv: kubectl('apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'), input: text });
      revertLifo.push([{ kind: 'run', what: `delete ${name}`, argv: kubectl('delete', '--ignore-not-found', '--wait', '-f', '-'), input: text }]);
    }
    if (step.annotate) {
      const { pod, annotations } = step.annotate;
      const ns = podNs(pod);
      const before = scenario.lab.pods.find((p) => p.name === pod)?.annotations ?? {};
      const patch = (a: Record<string, string | null>) => JSON.stringify({ spec: { template: { metadata: { annotations: a } } } });
      const wait: KindStep = { kind: 'run', what: `wait for ${ns}/${pod}`, argv: kubectl('-n', ns, 'rollout', 'status', `deployment/${pod}`, `--timeout=${ROLLOUT_TIMEOUT}`) };
      apply.push({ kind: 'run', what: `annotate ${pod} (${name})`, argv: kubectl('-n', ns, 'patch', `deployment/${pod}`, '--type=merge', '-p', patch(annotations)) }, wait);
      const restore = Object.fromEntries(Object.keys(annotations).map((k) => [k, before[k] ?? null]));
      revertLifo.push([{ kind: 'run', what: `restore ${pod}'s annotations`, argv: kubectl('-n', ns, 'patch', `deployment/${pod}`, '--type=merge', '-p', patch(restore)) }, wait]);
    }
    if (step.meshConfig) {
      const path = `${state}/istio-operator.setup-${i}.yaml`;
      const changed = istioOperatorFor(istioOperatorFor(input.operatorBase, scenario.lab), { meshConfig: step.meshConfig });
      const back = istioOperatorFor(input.operatorBase, scenario.lab);
      const backPath = `${state}/istio-operator.yaml`;
      manifests.push({ name, objects: [changed] });
      apply.push(
        { kind: 'write', what: `Istio settings for ${name}`, path, content: renderManifest([changed]) },
        { kind: 'run', what: `change mesh config (${name})`, argv: [istioctl, 'install', '--context', ctx, '-f', path, '-y'] },
      );
      revertLifo.push([
        { kind: 'write', what: 'the lab\'s Istio settings', path: backPath, content: renderManifest([back]) },
        { kind: 'run', what: 'restore the lab\'s mesh config', argv: [istioctl, 'install', '--context', ctx, '-f', backPath, '-y'] },
      ]);
    }
  });
  return { apply, revert: revertLifo.reverse().flat(), manifests };
}
