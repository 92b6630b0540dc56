// The kind backend's run as data: every command, manifest and API call of a run, in order
// (`pathlab run --backend kind --dry-run` prints it), built by the same functions the kind
// backend (backend.ts) runs. One cluster serves the whole run: a new lab, or a running one
// named by --lab-id, or a context the user vouches for. Scenarios with the same lab
// definition share that lab's pods and Services, applied before them and deleted after; each
// scenario's setup is applied, waited for (the sidecars' config_dump shows the listeners the
// scenario expects) and reverted (until the listeners are back as they were).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { bundledAgents } from '../netns/agents/bundle.ts';
import { connectArgv } from '../../run/probe.ts';
import { groupByLab } from '../../run/runner.ts';
import { TOOLS } from '../../probes/index.ts';
import { CONTROL_PORT, SYN_FILTER, tcpdumpArgv } from '../../probes/tcpdump.ts';
import { conntrackArgv } from '../../probes/conntrack.ts';
import type { LoadedScenario } from '../../scenario/loaded.ts';
import { modesOf, type RunMode } from '../../scenario/setup-roles.ts';
import type { LabSpec, Probe, Scenario } from '../../scenario/schema.ts';
import type { Hop } from '../../paths/hop.ts';
import { readLabFiles } from './kind-lab.ts';
import { DRY_RUN_ID, FIELD_MANAGER, LAB_LABEL, contextName } from './labels.ts';
import { ECHO_APP_CONFIGMAP, ISTIO_OPERATOR_FILE, echoAppNamespaces, istioOperatorFor, labelAndPin, parseManifestText, probeContainerOf, renderManifest, scenarioLabObjects, type K8sObject } from './manifests.ts';
import { ROLLOUT_TIMEOUT, formatKindStep, istioctlPath, labStateDir, planKindDown, planKindLab, type KindStep } from './plan.ts';
import { planScenarioSetup } from './setup.ts';
import {
  CAPTURE_CONTAINER,
  PROXY_CONTAINER,
  backgroundReadyArgv,
  backgroundStartArgv,
  backgroundStopArgv,
  captureContainer,
  controlSynArgv,
  envoyAdminArgv,
  inPodNetnsArgv,
  iptablesSaveArgv,
  kernelTraceArgvs,
} from './evidence.ts';
import { externalsCompose, externalsProject } from './externals.ts';
import { IMAGES, imageRef, kindPins, type KindPins } from './versions.ts';

export const KIND_ISTIO_VERSION = 'current';

/** The listeners a scenario's probes name in their expected paths (to wait for) and in must-not hops (to wait out), per probing pod. */
export function expectedListeners(s: LoadedScenario): Map<string, { expected: string[]; absent: string[] }> {
  const out = new Map<string, { expected: string[]; absent: string[] }>();
  const meshed = new Set(s.scenario.lab.pods.filter((p) => p.meshed !== false).map((p) => p.name));
  const names = (h: Hop): string[] => (h.kind === 'envoy' ? h.attrs.filter(([k]) => k === 'listener').map(([, v]) => v) : []);
  for (const [i, p] of s.scenario.probes.entries()) {
    if (!meshed.has(p.from.pod)) continue;
    const e = out.get(p.from.pod) ?? { expected: [], absent: [] };
    const want = s.expected[i]!;
    for (const h of want.path) for (const n of names(h)) if (!e.expected.includes(n)) e.expected.push(n);
    for (const h of want.notPath) {
      // Only a must-not hop that is nothing but a listener says the listener must not exist.
      if (h.kind === 'envoy' && h.attrs.length === 1) for (const n of names(h)) if (!e.absent.includes(n)) e.absent.push(n);
    }
    out.set(p.from.pod, e);
  }
  return out;
}

export interface KindRunPlanInput {
  scenarios: LoadedScenario[];
  id: string;
  pins: KindPins;
  cacheDir: string;
  /** Use a running cluster (--lab-id / --context): no lab up or down. */
  existing?: { context: string };
  /** Also run each scenario that has a fault or fix without it (--check-fault). */
  checkFault?: boolean;
  keepLab?: boolean;
  readFile?: (path: string) => string;
}

export interface KindRunSection {
  title: string;
  steps: KindStep[];
}

interface GroupPlan {
  scenarios: LoadedScenario[];
  lab: LabSpec;
  apply: KindStep[];
  remove: KindStep[];
  meshConfig?: { apply: KindStep[]; restore: KindStep[] };
}

const kubectl = (ctx: string, ...args: string[]) => ['kubectl', '--context', ctx, ...args];

/** The compose file of a lab group's external hosts, named by its first scenario. */
export const externalsComposePath = (cacheDir: string, id: string, group: readonly LoadedScenario[]) => `${labStateDir(cacheDir, id)}/externals/${group[0]!.scenario.metadata.name}.compose.yaml`;

/** The bundled echo app's text (built once into the cache by the netns lab's bundler). */
function echoAppSource(cacheDir: string): string {
  return readFileSync(bundledAgents(join(cacheDir, 'agents'))['echo-app'], 'utf8');
}

/** One lab group's pods and Services: applied (with rollout waits) before its scenarios and deleted after. */
function planGroup(ctx: string, id: string, group: LoadedScenario[], pins: KindPins, cacheDir: string, operatorBase: K8sObject): GroupPlan {
  const lab = group[0]!.scenario.lab;
  const objects = scenarioLabObjects(lab, pins.images).map((o) => labelAndPin(o, id, pins.images));
  const owned = objects.filter((o) => o.kind !== 'Namespace');
  const state = labStateDir(cacheDir, id);
  const first = group[0]!.scenario.metadata.name;
  // The echo app: one file on this machine, in a ConfigMap of each namespace with echo pods, and mounted by the external hosts.
  const echoNamespaces = echoAppNamespaces(lab);
  const hosts = lab.externalHosts ?? [];
  const echoApp = `${state}/echo-app.mjs`;
  const needsEchoApp = echoNamespaces.length > 0 || hosts.some((h) => h.server !== 'redis');
  const composeFile = externalsComposePath(cacheDir, id, group);
  const apply: KindStep[] = [
    ...(needsEchoApp ? [{ kind: 'write', what: 'the echo app', path: echoApp, content: echoAppSource(cacheDir), shown: 'the lab\'s echo app, src/lab/netns/agents/echo-app.ts bundled by esbuild' } satisfies KindStep] : []),
    ...echoNamespaces.flatMap((ns): KindStep[] => [
      { kind: 'run', what: `the echo app's ConfigMap in ${ns} (made anew: a kept lab may hold an older one)`, argv: kubectl(ctx, '-n', ns, 'delete', 'configmap', ECHO_APP_CONFIGMAP, '--ignore-not-found') },
      { kind: 'run', what: `the echo app's ConfigMap in ${ns}`, argv: kubectl(ctx, '-n', ns, 'create', 'configmap', ECHO_APP_CONFIGMAP, `--from-file=echo-app.mjs=${echoApp}`) },
      { kind: 'run', what: `label the ConfigMap with the lab id`, argv: kubectl(ctx, '-n', ns, 'label', 'configmap', ECHO_APP_CONFIGMAP, `${LAB_LABEL}=${id}`, '--overwrite') },
    ]),
    ...(hosts.length
      ? [
          { kind: 'write', what: 'the lab group\'s external hosts', path: composeFile, content: externalsCompose(hosts, { labId: id, echoApp, images: { node: pins.images.node!, redis: pins.images.redis! } }) } satisfies KindStep,
          {
            kind: 'api',
            what: `start the external hosts (${hosts.map((h) => `${h.name} at ${h.address}`).join(', ')}) and wait until each logs that it serves`,
            call: `docker compose --project-name ${externalsProject(id)} --file ${composeFile} up (testcontainers' DockerComposeEnvironment)`,
          } satisfies KindStep,
        ]
      : []),
    { kind: 'run', what: `apply the pods and Services of ${first}'s lab`, argv: kubectl(ctx, 'apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'), input: renderManifest(objects) },
    ...objects
      .filter((o) => o.kind === 'Deployment')
      .map((o): KindStep => ({ kind: 'run', what: `wait for ${o.metadata.namespace}/${o.metadata.name}`, argv: kubectl(ctx, '-n', o.metadata.namespace ?? 'default', 'rollout', 'status', `deployment/${o.metadata.name}`, `--timeout=${ROLLOUT_TIMEOUT}`) })),
  ];
  // Namespaces stay (default and the lab's own are shared); the group's Deployments and Services go.
  const remove: KindStep[] = [
    { kind: 'run', what: 'delete the lab group\'s pods and Services', argv: kubectl(ctx, 'delete', '--ignore-not-found', '--wait', '-f', '-'), input: renderManifest(owned) },
    ...echoNamespaces.map((ns): KindStep => ({ kind: 'run', what: `delete the echo app's ConfigMap in ${ns}`, argv: kubectl(ctx, '-n', ns, 'delete', 'configmap', ECHO_APP_CONFIGMAP, '--ignore-not-found') })),
    ...(hosts.length ? [{ kind: 'api', what: 'remove the external hosts', call: `docker compose --project-name ${externalsProject(id)} down --volumes (testcontainers)` } satisfies KindStep] : []),
  ];
  const plan: GroupPlan = { scenarios: group, lab, apply, remove };
  const mode = lab.meshConfig?.outboundTrafficPolicy?.mode;
  const baseMode = (operatorBase.spec as { meshConfig?: { outboundTrafficPolicy?: { mode?: string } } } | undefined)?.meshConfig?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  if (mode && mode !== baseMode) {
    const istioctl = istioctlPath(cacheDir, pins.istioVersion);
    const state = labStateDir(cacheDir, id);
    plan.meshConfig = {
      apply: [
        { kind: 'write', what: 'the lab group\'s Istio settings', path: `${state}/istio-operator.group.yaml`, content: renderManifest([istioOperatorFor(operatorBase, lab)]) },
        { kind: 'run', what: `mesh config: outboundTrafficPolicy ${mode}`, argv: [istioctl, 'install', '--context', ctx, '-f', `${state}/istio-operator.group.yaml`, '-y'] },
      ],
      restore: [
        { kind: 'write', what: 'the lab\'s Istio settings', path: `${state}/istio-operator.yaml`, content: renderManifest([operatorBase]) },
        { kind: 'run', what: 'restore the lab\'s mesh config', argv: [istioctl, 'install', '--context', ctx, '-f', `${state}/istio-operator.yaml`, '-y'] },
      ],
    };
  }
  return plan;
}

/** A lab group's section title (its removal's is this with `: remove`): named by its scenarios, so each group has its own. */
export const groupTitle = (group: readonly LoadedScenario[]) => `lab group: ${group.map((s) => s.scenario.metadata.name).join(', ')}`;

export const runLabel = (s: Scenario, mode: RunMode) => `scenario ${s.metadata.name}${mode === 'without-change' ? ' (without its change)' : ''}`;

/** The commands one probe makes, with placeholders for what only the cluster knows (pod names, pids, node). */
function probeSteps(s: Scenario, probe: Probe): KindStep[] {
  const ns = (pod: string) => s.lab.pods.find((p) => p.name === pod)?.namespace ?? 'default';
  const pod = probe.from.pod;
  const podRef = `${ns(pod)}/<pod ${pod}>`;
  const node = `<node of ${pod}>`;
  const pid = `<pid of ${pod}>` as const;
  const spec = s.lab.pods.find((p) => p.name === pod);
  const meshed = spec?.meshed !== false;
  // The probe's own container (its user is the prediction's), and the one this probe runs in.
  const own = probeContainerOf(spec);
  const probing = probe.from.container === 'istio-proxy' ? PROXY_CONTAINER : own;
  const steps: KindStep[] = [
    { kind: 'api', what: `find the pod of ${pod} and its node`, call: `GET /api/v1/namespaces/${ns(pod)}/pods?labelSelector=pathlab.dev/pod=${pod}` },
    { kind: 'run', what: `the pid of ${pod}'s first running container, to enter its network namespace`, argv: ['docker', 'exec', node, 'crictl', 'inspect', '--output', 'go-template', '--template', '{{.info.pid}}', `<container id of ${pod}>`] },
  ];
  const tool = TOOLS[probe.tool];
  if (tool.kind === 'pod-state') {
    steps.push({ kind: 'run', what: probe.tool, argv: probe.tool === 'iptables-save' ? iptablesSaveArgv(node, pid) : inPodNetnsArgv(node, pid, tool.argv()) });
    return steps;
  }
  const t = probe.target!;
  const port = t.port ?? 80;
  const ip = t.address ?? `<ClusterIP of ${t.host}>`;
  const { argv, input } = connectArgv(tool, probe, { ip, port, name: t.address ?? t.host! });
  steps.push(
    { kind: 'api', what: `${ip} must be in the cluster's pod or Service network (read from the cluster once per lab group) or an external host's address (the lab group's externalHosts)`, call: 'GET /api/v1/nodes; GET /apis/networking.k8s.io/v1/servicecidrs' },
    { kind: 'exec', what: `the ${own} container's uid (the prediction needs it)`, target: `${podRef}/${own}`, argv: ['sh', '-c', 'echo "$(id -u) $(id -g)"'] },
    { kind: 'run', what: 'the pod\'s rules (prediction)', argv: iptablesSaveArgv(node, pid) },
  );
  if (meshed) {
    steps.push(
      { kind: 'exec', what: 'the sidecar\'s listeners (prediction; the access log\'s listener)', target: `${podRef}/${PROXY_CONTAINER}`, argv: envoyAdminArgv('config_dump') },
      { kind: 'api', what: 'mark the sidecar\'s log', call: `GET /api/v1/namespaces/${ns(pod)}/pods/<pod ${pod}>/log?container=${PROXY_CONTAINER}` },
    );
  }
  const capKey = '<capture key>';
  // The probe's own captures, one background key each (a placeholder of letters, as --dry-run prints keys).
  const captures = (probe.captures ?? []).flatMap((c, i) => (c.tcpdump ? [[c.tcpdump, `<capture key ${String.fromCharCode(97 + i)}>`] as const] : []));
  const traceKey = '<trace key>';
  const trace = kernelTraceArgvs(node, pid, traceKey, [{ chain: 'OUTPUT', proto: 'tcp', dport: port }]);
  steps.push(
    { kind: 'api', what: `add the capture container (once per pod; it idles as root with NET_RAW)`, call: `PUT /api/v1/namespaces/${ns(pod)}/pods/<pod ${pod}>/ephemeralcontainers ${JSON.stringify(captureContainer(CAPTURE_CONTAINER, imageRef(IMAGES.toolbox!)))}` },
    { kind: 'exec', what: 'start tcpdump (SYNs leaving the pod)', target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundStartArgv(capKey, tcpdumpArgv('eth0', SYN_FILTER)) },
    { kind: 'exec', what: 'wait until tcpdump listens (every 100 ms, up to 5 s)', target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundReadyArgv(capKey, 'listening on') },
    ...captures.flatMap(([c, key]): KindStep[] => [
      { kind: 'exec', what: `start the probe's capture: tcpdump -i ${c.iface} ${c.filter}`, target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundStartArgv(key, tcpdumpArgv(c.iface, c.filter)) },
      { kind: 'exec', what: 'wait until it listens (every 100 ms, up to 5 s)', target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundReadyArgv(key, 'listening on') },
    ]),
    ...trace.add.map((argv): KindStep => ({ kind: 'run', what: 'trace the connection\'s packets', argv })),
    { kind: 'run', what: 'start the kernel trace', argv: trace.start },
    { kind: 'exec', what: `the probe: ${probe.name}`, target: `${podRef}/${probing}`, argv, ...(input === undefined ? {} : { input }) },
    { kind: 'run', what: 'the positive control: a SYN as uid 1337 to the target\'s discard port', argv: controlSynArgv(node, pid, ip, CONTROL_PORT) },
    ...trace.listings.map((l): KindStep => ({ kind: 'run', what: `rule handles of table ${l.table}`, argv: l.argv })),
    { kind: 'run', what: 'stop the kernel trace and read it', argv: trace.stop },
    ...trace.remove.map((argv): KindStep => ({ kind: 'run', what: 'remove the TRACE rule', argv })),
    { kind: 'exec', what: 'stop tcpdump and read it', target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundStopArgv(capKey) },
    ...captures.map(([c, key]): KindStep => ({ kind: 'exec', what: `stop tcpdump -i ${c.iface} ${c.filter} and read it`, target: `${podRef}/${CAPTURE_CONTAINER}`, argv: backgroundStopArgv(key) })),
  );
  if (meshed) steps.push({ kind: 'api', what: 'the sidecar\'s access log since the mark (every 10 ms, up to 5 s)', call: `GET /api/v1/namespaces/${ns(pod)}/pods/<pod ${pod}>/log?container=${PROXY_CONTAINER}` });
  if ((probe.captures ?? []).some((c) => c.conntrack)) steps.push({ kind: 'run', what: 'conntrack entries of the connection (captures: conntrack)', argv: inPodNetnsArgv(node, pid, conntrackArgv()) });
  return steps;
}

/** The whole run as sections of steps, in order: what --dry-run prints and what the kind backend (backend.ts) does. */
export function planKindRun(input: KindRunPlanInput): KindRunSection[] {
  const labFiles = readLabFiles();
  const operatorBase = parseManifestText(ISTIO_OPERATOR_FILE, labFiles['istio-operator.yaml']!)[0]!;
  const ctx = input.existing?.context ?? contextName(input.id);
  const sections: KindRunSection[] = [];
  if (!input.existing) sections.push({ title: `lab up (kind cluster for lab ${input.id})`, steps: planKindLab({ id: input.id, pins: input.pins, labFiles, cacheDir: input.cacheDir }).steps });
  for (const group of groupByLab(input.scenarios)) {
    const g = planGroup(ctx, input.id, group, input.pins, input.cacheDir, operatorBase);
    sections.push({ title: groupTitle(group), steps: [...(g.meshConfig?.apply ?? []), ...g.apply] });
    for (const s of group) {
      for (const mode of modesOf(s.scenario, input.checkFault ?? false)) {
        const setup = planScenarioSetup({ id: input.id, context: ctx, scenario: s.scenario, scenarioFile: s.file, files: s.files, ...(input.readFile ? { readFile: input.readFile } : {}), pins: input.pins, cacheDir: input.cacheDir, operatorBase: istioOperatorFor(operatorBase, s.scenario.lab), mode });
        const changes = setup.apply.some((st) => st.kind === 'run');
        const waits: KindStep[] = [...expectedListeners(s)].map(([pod, w]) => ({
          kind: 'exec',
          what: `wait until ${pod}'s sidecar has ${w.expected.join(', ') || 'its listeners'}${w.absent.length ? ` and not ${w.absent.join(', ')}` : ''}${changes ? ', in an LDS version other than before the setup' : ''} (every 1 s, up to ${mode === 'without-change' ? 10 : 60} s; the version goes in the report)`,
          target: `${s.scenario.lab.pods.find((p) => p.name === pod)?.namespace ?? 'default'}/<pod ${pod}>/${PROXY_CONTAINER}`,
          argv: envoyAdminArgv('config_dump'),
        }));
        sections.push({ title: `${runLabel(s.scenario, mode)}: setup`, steps: [...setup.apply, ...waits] });
        for (const probe of s.scenario.probes) sections.push({ title: `${runLabel(s.scenario, mode)}: probe ${probe.name}`, steps: probeSteps(s.scenario, probe) });
        const back: KindStep[] = setup.revert.length ? [{ kind: 'api', what: 'wait until every probing sidecar\'s listeners are as before the setup (up to 60 s)', call: 'config_dump of each probing pod, as above' }] : [];
        sections.push({ title: `${runLabel(s.scenario, mode)}: revert`, steps: [...setup.revert, ...back] });
      }
    }
    sections.push({ title: `${groupTitle(group)}: remove`, steps: [...g.remove, ...(g.meshConfig?.restore ?? [])] });
  }
  if (!input.existing && !input.keepLab) sections.push({ title: 'lab down', steps: planKindDown([input.id], input.cacheDir).steps });
  return sections;
}

function formatKindRunPlan(sections: KindRunSection[], opts: { home?: string } = {}): string {
  return sections.map((sec) => [`== ${sec.title}`, ...sec.steps.flatMap((st, i) => formatKindStep(st, i + 1, opts))].join('\n')).join('\n\n') + '\n';
}

/** `pathlab run --backend kind --dry-run`: the plan as text. */
export function kindRunDryRun(scenarios: LoadedScenario[], opts: { cacheDir: string; labId?: string; context?: string; checkFault?: boolean; keepLab?: boolean; istioRelease?: string }): string {
  const id = opts.labId ?? DRY_RUN_ID;
  const existing = opts.context !== undefined || opts.labId !== undefined ? { context: opts.context ?? contextName(id) } : undefined;
  const sections = planKindRun({
    scenarios,
    id,
    pins: kindPins('linux-amd64', opts.istioRelease),
    cacheDir: opts.cacheDir,
    ...(existing ? { existing } : {}),
    ...(opts.checkFault ? { checkFault: true } : {}),
    ...(opts.keepLab ? { keepLab: true } : {}),
  });
  return formatKindRunPlan(sections, { home: homedir() });
}

