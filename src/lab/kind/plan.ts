// The kind lab as a plan: the exact commands (argument arrays), files and manifests that
// `lab up` runs, writes and applies, in order. Pure: the same plan is printed by --dry-run,
// compared with a reviewed golden in the tests, and run by kind-lab.ts. Every kubectl and
// istioctl call names the lab's context explicitly, so nothing depends on (or changes) the
// user's current context.
import { packagePath, shownPath } from '../package-root.ts';
import type { LabSpec, Scenario } from '../../scenario/schema.ts';
import {
  CREATED_BY,
  CREATED_BY_ANNOTATION,
  FIELD_MANAGER,
  LAB_LABEL,
  clusterName,
  contextName,
  nodeContainer,
} from './labels.ts';
import {
  ISTIO_OPERATOR_FILE,
  KIND_CONFIG_FILE,
  LAB_WORKLOAD_FILES,
  istioOperatorFor,
  labelAndPin,
  parseManifestText,
  renderManifest,
  scenarioLabObjects,
  type K8sObject,
  type Manifest,
} from './manifests.ts';
import { imageRef, missingPins, type KindPins } from './versions.ts';

/** The Docker network of the lab groups' external hosts (externals.ts), joined by the node. */
export const EXTERNAL_NETWORK = 'pathlab-ext';
export const EXTERNAL_SUBNET = '10.0.0.0/24';
export const EXTERNAL_GATEWAY = '10.0.0.1';
export const ROLLOUT_TIMEOUT = '300s';

/** The external services' network: the addresses the catalogue's scenarios name (10.0.0.6). */
export function externalNetworkCreateArgv(): string[] {
  return ['docker', 'network', 'create', '--driver', 'bridge', '--subnet', EXTERNAL_SUBNET, '--gateway', EXTERNAL_GATEWAY, '--label', 'pathlab.dev/external=true', EXTERNAL_NETWORK];
}

export type KindStep =
  | {
      kind: 'run';
      what: string;
      argv: string[];
      /** Bytes for stdin: the manifest YAML of `kubectl apply -f -`. */
      input?: string;
      /** Run only when this command succeeds (e.g. the image is present locally). */
      onlyIf?: string[];
      /** Run only when this command fails (e.g. the network does not exist yet). */
      unless?: string[];
      /** A failure here is reported and the plan goes on (e.g. no external network yet). */
      optional?: boolean;
    }
  | { kind: 'fetch'; what: string; url: string; sha256: string; member: string; dest: string }
  /** A file written on this machine; `shown` stands for a content too long to print (a bundled program). */
  | { kind: 'write'; what: string; path: string; content: string; shown?: string }
  /** A command in a pod's container through the exec API (run plans only: the runner makes these calls). */
  | { kind: 'exec'; what: string; target: string; argv: string[]; input?: string }
  /** A Kubernetes API call or a wait on one (run plans only). */
  | { kind: 'api'; what: string; call: string };

export interface KindPlan {
  id: string;
  cluster: string;
  context: string;
  node: string;
  istioctl: string;
  steps: KindStep[];
  manifests: Manifest[];
  /** Pins `lab up` cannot run without (UNPINNED): it refuses, naming each. */
  missingPins: string[];
}

export interface KindPlanInput {
  id: string;
  pins: KindPins;
  /** Text of each file under labs/kind-istio, by file name (kind.yaml, bookinfo.yaml, ...). */
  labFiles: Readonly<Record<string, string>>;
  /** ~/.cache/pathlab: istioctl/<version>/istioctl and labs/<id>/ live there. */
  cacheDir: string;
  /** The scenario whose lab (pods, services, mesh config) is added to the base lab. */
  scenario?: Scenario;
}

export const istioctlPath = (cacheDir: string, version: string) => `${cacheDir}/istioctl/${version}/istioctl`;
export const labStateDir = (cacheDir: string, id: string) => `${cacheDir}/labs/${id}`;

function containerImages(o: K8sObject): string[] {
  const t = (o.spec as { template?: { spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } } | undefined)?.template;
  return [...(t?.spec?.initContainers ?? []), ...(t?.spec?.containers ?? [])].flatMap((c) => (c.image ? [c.image] : []));
}

function kubectl(ctx: string, ...args: string[]): string[] {
  return ['kubectl', '--context', ctx, ...args];
}

function fileText(files: Readonly<Record<string, string>>, name: string): string {
  const t = files[name];
  if (t === undefined) throw new Error(`labs/kind-istio/${name} is missing`);
  return t;
}

export function planKindLab(input: KindPlanInput): KindPlan {
  const { id, pins, cacheDir } = input;
  const cluster = clusterName(id);
  const ctx = contextName(id);
  const node = nodeContainer(id);
  const istioctl = istioctlPath(cacheDir, pins.istioVersion);
  const state = labStateDir(cacheDir, id);
  const steps: KindStep[] = [];
  const manifests: Manifest[] = [];
  const lab: LabSpec | undefined = input.scenario?.lab;

  // 1. istioctl, fetched once into the cache and checked against its published sha256.
  steps.push({
    kind: 'fetch',
    what: `istioctl ${pins.istioVersion}`,
    url: pins.istioctl.url,
    sha256: pins.istioctl.sha256,
    member: pins.istioctl.member,
    dest: istioctl,
  });

  // 2. The cluster, from the pinned node image.
  steps.push({
    kind: 'run',
    what: 'create the kind cluster',
    argv: ['kind', 'create', 'cluster', '--name', cluster, '--config', shownPath(packagePath(KIND_CONFIG_FILE)), '--image', imageRef(pins.nodeImage), '--wait', '120s'],
  });
  // 3. Mark it as ours: the guard accepts a context only when kube-system carries these.
  steps.push({
    kind: 'run',
    what: 'mark the cluster as a pathlab lab',
    argv: kubectl(ctx, 'label', 'namespace', 'kube-system', `${LAB_LABEL}=${id}`, '--overwrite'),
  });
  steps.push({
    kind: 'run',
    what: 'mark the cluster as a pathlab lab',
    argv: kubectl(ctx, 'annotate', 'namespace', 'kube-system', `${CREATED_BY_ANNOTATION}=${CREATED_BY}`, '--overwrite'),
  });

  // 4. (below) Images present in the local Docker engine go into the node without a pull.
  const preloadAt = steps.length;

  // 5. Istio, with the lab's profile and mesh config (access log on stdout as evidence).
  const operatorBase = parseManifestText(ISTIO_OPERATOR_FILE, fileText(input.labFiles, 'istio-operator.yaml'))[0]!;
  const operator = istioOperatorFor(operatorBase, lab);
  const operatorPath = `${state}/istio-operator.yaml`;
  steps.push({ kind: 'write', what: 'Istio install settings', path: operatorPath, content: renderManifest([operator]) });
  manifests.push({ name: 'istio-operator.yaml', objects: [operator] });
  steps.push({
    kind: 'run',
    what: `install Istio ${pins.istioVersion}`,
    argv: [istioctl, 'install', '--context', ctx, '-f', operatorPath, '-y'],
  });
  steps.push({ kind: 'run', what: 'label istio-system with the lab id', argv: kubectl(ctx, 'label', 'namespace', 'istio-system', `${LAB_LABEL}=${id}`, '--overwrite') });
  steps.push({ kind: 'run', what: 'wait for istiod', argv: kubectl(ctx, '-n', 'istio-system', 'rollout', 'status', 'deployment/istiod', `--timeout=${ROLLOUT_TIMEOUT}`) });

  // 6. Workloads: namespaces labelled for injection, Bookinfo, hello-app, tcp-echo, toolbox,
  //    then the scenario's own pods and Services.
  const apply = (name: string, objects: K8sObject[]) => {
    const labelled = objects.map((o) => labelAndPin(o, id, pins.images));
    manifests.push({ name, objects: labelled });
    steps.push({
      kind: 'run',
      what: `apply ${name}`,
      argv: kubectl(ctx, 'apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'),
      input: renderManifest(labelled),
    });
    return labelled;
  };
  const applied: K8sObject[] = [];
  for (const f of LAB_WORKLOAD_FILES) applied.push(...apply(f, parseManifestText(f, fileText(input.labFiles, f))));
  if (input.scenario) applied.push(...apply(`scenario:${input.scenario.metadata.name}`, scenarioLabObjects(input.scenario.lab, pins.images)));

  // 4. Preload: every image the manifests use, in first-use order, by its tag (kind load
  //    names the image by tag inside the node; a digest-pinned reference still pulls when the
  //    local image is not that digest).
  const used = new Map<string, string>();
  for (const o of applied) for (const ref of containerImages(o)) {
    const pin = Object.entries(pins.images).find(([, p]) => imageRef(p) === ref);
    if (pin && !used.has(pin[1].ref)) used.set(pin[1].ref, pin[0]);
  }
  steps.splice(
    preloadAt,
    0,
    ...[...used].map(([ref, name]): KindStep => ({
      kind: 'run',
      what: `preload ${name} when present locally`,
      argv: ['kind', 'load', 'docker-image', '--name', cluster, ref],
      onlyIf: ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref],
    })),
  );

  // 7. The node joins the external hosts' network (each lab group's compose file uses it as an
  //    external network), so pods reach e.g. 10.0.0.6 through the node. The network is
  //    shared by every lab on this engine and outlives them.
  steps.push({
    kind: 'run',
    what: 'create the external services network',
    argv: externalNetworkCreateArgv(),
    unless: ['docker', 'network', 'inspect', '--format', '{{.Name}}', EXTERNAL_NETWORK],
  });
  steps.push({ kind: 'run', what: 'connect the node to the external services network', argv: ['docker', 'network', 'connect', EXTERNAL_NETWORK, node] });

  // 8. Rollout waits, one per Deployment, in apply order.
  for (const o of applied) {
    if (o.kind !== 'Deployment') continue;
    steps.push({
      kind: 'run',
      what: `wait for ${o.metadata.namespace ?? 'default'}/${o.metadata.name}`,
      argv: kubectl(ctx, '-n', o.metadata.namespace ?? 'default', 'rollout', 'status', `deployment/${o.metadata.name}`, `--timeout=${ROLLOUT_TIMEOUT}`),
    });
  }

  return { id, cluster, context: ctx, node, istioctl, steps, manifests, missingPins: missingPins(pins) };
}

export interface KindDownPlan {
  ids: string[];
  steps: KindStep[];
}

/** Deletes the labs' clusters (everything in a lab lives in its cluster) and their state. */
export function planKindDown(ids: readonly string[], cacheDir: string): KindDownPlan {
  const steps: KindStep[] = [];
  for (const id of ids) {
    steps.push({
      kind: 'run',
      what: `disconnect ${nodeContainer(id)} from the external services network`,
      argv: ['docker', 'network', 'disconnect', EXTERNAL_NETWORK, nodeContainer(id)],
      optional: true,
    });
    steps.push({ kind: 'run', what: `delete lab ${id}`, argv: ['kind', 'delete', 'cluster', '--name', clusterName(id)] });
    steps.push({ kind: 'run', what: `remove lab ${id}'s state`, argv: ['rm', '-rf', '--', labStateDir(cacheDir, id)] });
  }
  return { ids: [...ids], steps };
}

/** The plan as text: every command with its arguments, every file and manifest, in order. */
export function formatKindPlan(plan: { steps: KindStep[] }, opts: { home?: string } = {}): string {
  return `${plan.steps.flatMap((s, i) => formatKindStep(s, i + 1, opts)).join('\n')}\n`;
}

/** One step as printed lines, numbered `n`. */
export function formatKindStep(s: KindStep, n: number, opts: { home?: string } = {}): string[] {
  // This machine's home directory is printed as ~, wherever it appears (a path, a flag's value, a file's text).
  const show = (x: string) => (opts.home ? x.split(`${opts.home}/`).join('~/') : x);
  // A placeholder (`<pid of app>`) is printed as it is: the runner puts the value there.
  const q = (a: string) => (/^[\w@%+=:,./~-]+$/.test(a) || /^<[^'<>]+>$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const cmd = (argv: readonly string[]) => argv.map((a) => q(show(a))).join(' ');
  const lines: string[] = [];
  if (s.kind === 'fetch') {
    lines.push(`${n}. fetch ${s.what}`, `   download ${s.url}`, `   verify sha256 ${s.sha256}`, `   extract ${s.member} -> ${show(s.dest)}`);
  } else if (s.kind === 'write') {
    lines.push(`${n}. write ${show(s.path)} (${s.what})`, ...(s.shown === undefined ? indent(show(s.content)) : [`   (${s.shown})`]));
  } else if (s.kind === 'exec') {
    lines.push(`${n}. ${s.what}`, `   exec ${s.target} -- ${cmd(s.argv)}`);
    if (s.input !== undefined) lines.push('   stdin:', ...indent(s.input));
  } else if (s.kind === 'api') {
    lines.push(`${n}. ${s.what}`, `   api ${show(s.call)}`);
  } else {
    lines.push(`${n}. ${s.what}${s.optional ? ' (a failure is reported, not fatal)' : ''}`);
    if (s.onlyIf) lines.push(`   if: ${cmd(s.onlyIf)}`);
    if (s.unless) lines.push(`   unless: ${cmd(s.unless)}`);
    lines.push(`   $ ${cmd(s.argv)}`);
    if (s.input !== undefined) lines.push('   stdin:', ...indent(s.input));
  }
  return lines;
}

function indent(text: string): string[] {
  return text.replace(/\n$/, '').split('\n').map((l) => `   | ${l}`);
}
