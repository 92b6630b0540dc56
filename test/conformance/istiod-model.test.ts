// The Envoy model checked against istiod's own configuration generation: for every probe of the
// catalogue's current-Istio scenarios that starts in a meshed pod, explain on the model's
// synthesis and explain on the config istiod generates for the same pod (go/istiod-gen: Istio's
// fake discovery server over the lab's Services, Pods and EndpointSlices, with the scenario's
// setup applied) must name the same listeners, filter chain and cluster. Each disagreement is
// either fixed in the model or listed in KNOWN with its reason (and in the README).
import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ISTIO_BUILD_PINS, builtIstio, goFor } from '../../src/istio/istio-build.ts';
import { istiodConfigDumps } from '../../src/istio/istiod-gen.ts';
import { kubeObjectsYaml } from '../../src/lab/netns/kube-objects.ts';
import { meshForPod } from '../../src/lab/netns/mesh-for-pod.ts';
import { parseResources } from '../../src/lab/netns/mesh-control.ts';
import { planLab, planService, type PlannedService } from '../../src/lab/netns/plan.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import { explain } from '../../src/mesh/envoy/explain.ts';
import type { Payload } from '../../src/mesh/envoy/first-bytes.ts';
import { parseMesh } from '../../src/mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../src/mesh/envoy/synthesize-sidecar.ts';
import { istioInitRules } from '../../src/mesh/iptables/index.ts';
import { kernelTrace } from '../../src/paths/kernel-trace.ts';
import { TOOLS } from '../../src/probes/index.ts';
import { collectScenarioFiles } from '../../src/scenario/collect.ts';
import { namedFileText, type LoadedScenario } from '../../src/scenario/loaded.ts';
import { loadScenarioFile } from '../../src/scenario/loader.ts';
import type { LabSpec } from '../../src/scenario/schema.ts';

const pin = ISTIO_BUILD_PINS[0]!;
const GO = await goFor(pin.goMin);
const goTest = GO.ok ? test : test.skip;
const NEEDS_GO = GO.ok ? '' : ` [skipped: needs Go ≥ ${pin.goMin} on PATH to build istiod-gen, found ${GO.version ?? 'none'}]`;

/** Disagreements the model keeps, by `scenario/probe`, with why. */
const KNOWN: Record<string, string> = {};

interface Comparison {
  where: string;
  model: string;
  istiod: string;
}

const hopOf = (e: { listener: string | null; filterChain: string | null; cluster: string | null }) =>
  `listener=${e.listener ?? '-'} chain=${e.filterChain?.startsWith('#') ? '(unnamed)' : (e.filterChain ?? '-')} cluster=${e.cluster ?? '-'}`;

async function compareScenario(istiodGen: string, s: LoadedScenario): Promise<Comparison[]> {
  const spec = s.scenario.lab;
  const plan = planLab(spec, '000000');
  // The scenario's setup, applied as the lab applies it (every step: the fault is what is compared).
  const applied: Array<Record<string, unknown>> = [];
  const annotations = new Map(plan.hosts.map((h) => [h.name, { ...(h.pod?.annotations ?? {}) }]));
  let mode = spec.meshConfig?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  const extra: PlannedService[] = [];
  for (const step of s.scenario.setup ?? []) {
    const resources = step.apply ? [step.apply as Record<string, unknown>] : step.applyFile ? parseResources(namedFileText(s, step.applyFile)) : [];
    for (const r of resources) {
      applied.push(r);
      if (r.kind === 'Service') {
        const md = r.metadata as { name: string; namespace?: string };
        const sp = (r.spec ?? {}) as { clusterIP?: string; selector?: Record<string, string>; ports?: Array<{ port: number; name?: string; targetPort?: number; appProtocol?: string }> };
        const taken = new Set([...plan.hosts.map((h) => h.ip), ...plan.services.map((x) => x.vip), ...extra.map((x) => x.vip)]);
        extra.push(planService({ name: md.name, namespace: md.namespace ?? 'default', clusterIP: sp.clusterIP, selector: sp.selector, ports: (sp.ports ?? []).map((p) => ({ ...p, targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port })) }, spec, plan.hosts, taken));
      }
    }
    if (step.annotate) Object.assign(annotations.get(step.annotate.pod) ?? {}, step.annotate.annotations);
    if (step.meshConfig?.outboundTrafficPolicy) mode = step.meshConfig.outboundTrafficPolicy.mode;
  }
  const services = [...plan.services, ...extra];
  const meshed = plan.hosts.filter((h) => h.kind === 'pod' && h.meshed);
  const dumps = await istiodConfigDumps(istiodGen, {
    kubernetes: kubeObjectsYaml(plan, services, (pod) => annotations.get(pod) ?? {}),
    istio: applied.filter((r) => r.kind !== 'Service').map((r) => stringify(r)).join('---\n'),
    meshConfig: stringify({ outboundTrafficPolicy: { mode } }),
    proxies: meshed.map((h) => ({ name: h.name, namespace: h.namespace, ip: h.ip, labels: h.pod?.labels ?? { app: h.name } })),
  });
  const out: Comparison[] = [];
  for (const probe of s.scenario.probes) {
    const tool = TOOLS[probe.tool];
    const host = meshed.find((h) => h.name === probe.from.pod);
    if (tool.kind !== 'connect' || !host || probe.from.container === 'istio-proxy' || probe.from.uid !== undefined) continue;
    const t = probe.target!;
    const port = t.port ?? 80;
    const svc = t.host === undefined ? undefined : services.find((x) => [x.name, `${x.name}.${x.namespace}`, `${x.name}.${x.namespace}.svc.cluster.local`].includes(t.host!));
    const ip = t.address ?? svc?.vip ?? plan.hosts.find((h) => h.name === t.host)?.ip;
    if (!ip) continue;
    const name = t.address ?? t.host!;
    const payload: Payload = tool.payloadKind === 'http' ? { kind: 'http', host: `${name}:${port}`, path: t.path ?? '/' } : probe.payload !== undefined ? { kind: 'bytes', text: probe.payload } : { kind: 'none' };
    const { tables } = istioInitRules(spec.istio.version, annotations.get(host.name) ?? {}, {}, (host.pod?.ports ?? []).map((p) => p.port));
    const kt = kernelTrace(tables, { src: host.ip, dst: { ip, port }, podIp: host.ip, uid: 1000, gid: 1000 });
    const conn = { src: host.ip, dst: { ip, port }, uid: 1000, payload };
    const synth = synthesizeSidecar(parseMesh(meshForPod(spec, { ...plan, services }, host, { mode, resources: applied }))).configDump;
    const model = hopOf(explain(kt, parseConfigDump(synth), conn));
    const istiod = hopOf(explain(kt, parseConfigDump(dumps.get(`${host.name}.${host.namespace}`)), conn));
    out.push({ where: `${s.scenario.metadata.name}/${probe.name}`, model, istiod });
  }
  return out;
}

goTest(`the model names the listener, chain and cluster istiod's own generation gives, for every catalogue probe from a meshed pod on current Istio${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const scenarios = collectScenarioFiles(['scenarios']).files.flatMap((f) => {
    const r = loadScenarioFile(f);
    return r.ok && r.scenario.lab.istio.version === 'current' && r.scenario.metadata.backends.includes('netns') ? [r] : [];
  });
  // Scenarios that need istiod apply kinds the model does not implement (VirtualService, DestinationRule): not compared.
  const beyond = scenarios.filter((s) => s.scenario.lab.istio.controlPlane === 'istiod');
  t.log(`${beyond.length} scenarios need istiod and are not compared: ${beyond.map((s) => s.scenario.metadata.name).join(', ')}`);
  const all: Comparison[] = [];
  for (const s of scenarios) if (!beyond.includes(s)) all.push(...(await compareScenario(built.istiodGen, s)));
  const differ = all.filter((c) => c.model !== c.istiod && !(c.where in KNOWN));
  t.log(`${all.length} probes compared, ${all.length - differ.length} agree (${Object.keys(KNOWN).length} known differences)`);
  t.true(all.length > 20, `only ${all.length} probes compared`);
  t.deepEqual(differ.map((c) => `${c.where}\n  model:  ${c.model}\n  istiod: ${c.istiod}`), []);
});

// Meshes the catalogue does not have: random Services (ports, port names with and without a
// protocol prefix, appProtocol, two namespaces), each port dialled by its VIP with an HTTP
// request and with raw bytes, from a meshed client.
const portName = fc.constantFrom('http', 'http-web', 'tcp', 'tcp-db', 'grpc', 'web', 'redis', 'mongo', undefined);
const serviceArb = fc.record({
  port: fc.constantFrom(80, 8080, 9080, 7000, 5432, 3306),
  name: portName,
  appProtocol: fc.option(fc.constantFrom('http', 'tcp', 'grpc'), { nil: undefined }),
  target: fc.integer({ min: 0, max: 2 }),
});

goTest(`on 12 random meshes, the model names the listener, chain and cluster istiod gives for every Service port, HTTP and raw${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const meshes = fc.sample(fc.array(serviceArb, { minLength: 2, maxLength: 5 }), { numRuns: 12, seed: 20261201 });
  const all: Comparison[] = [];
  for (const [i, svcs] of meshes.entries()) {
    const pods = [0, 1, 2].map((n) => ({ name: `p${n}`, workload: 'echo', namespace: n === 2 ? 'other' : 'default', labels: { app: `p${n}` }, ports: [{ port: 8080, name: 'http' }] }));
    const spec = {
      istio: { version: 'current' },
      pods: [...pods, { name: 'client', workload: 'toolbox', namespace: 'default', labels: { app: 'client' } }],
      services: svcs.map((s, n) => ({
        name: `s${n}`,
        namespace: pods[s.target]!.namespace,
        selector: { app: `p${s.target}` },
        ports: [{ port: s.port, targetPort: 8080, ...(s.name ? { name: s.name } : {}), ...(s.appProtocol ? { appProtocol: s.appProtocol } : {}) }],
      })),
    } as unknown as LabSpec;
    const plan = planLab(spec, '000000');
    const client = plan.hosts.find((h) => h.name === 'client')!;
    const dumps = await istiodConfigDumps(built.istiodGen, {
      kubernetes: kubeObjectsYaml(plan, plan.services, () => ({})),
      istio: '',
      meshConfig: stringify({ outboundTrafficPolicy: { mode: 'ALLOW_ANY' } }),
      proxies: [{ name: 'client', namespace: 'default', ip: client.ip, labels: { app: 'client' } }],
    });
    const istiod = parseConfigDump(dumps.get('client.default'));
    const model = parseConfigDump(synthesizeSidecar(parseMesh(meshForPod(spec, plan, client, { mode: 'ALLOW_ANY', resources: [] }))).configDump);
    const { tables } = istioInitRules('current', {}, {}, []);
    for (const svc of plan.services) {
      for (const p of svc.ports) {
        const payloads: Payload[] = [{ kind: 'http', host: `${svc.name}.${svc.namespace}:${p.port}`, path: '/' }, { kind: 'bytes', text: 'hello\n' }];
        for (const payload of payloads) {
          const dst = { ip: svc.vip, port: p.port };
          const kt = kernelTrace(tables, { src: client.ip, dst, podIp: client.ip, uid: 1000, gid: 1000 });
          const conn = { src: client.ip, dst, uid: 1000, payload };
          all.push({ where: `mesh ${i}: ${svc.name}.${svc.namespace}:${p.port} (name ${p.name ?? '-'}, appProtocol ${p.appProtocol ?? '-'}) ${payload.kind}`, model: hopOf(explain(kt, model, conn)), istiod: hopOf(explain(kt, istiod, conn)) });
        }
      }
    }
  }
  const differ = all.filter((c) => c.model !== c.istiod);
  t.log(`${all.length} connections compared on ${meshes.length} random meshes, ${all.length - differ.length} agree`);
  t.true(all.length > 40);
  t.deepEqual(differ.map((c) => `${c.where}\n  model:  ${c.model}\n  istiod: ${c.istiod}`), []);
});

// ServiceEntries: HTTP, TCP, TLS, HTTPS and GRPC ports, with an address, a CIDR or none, each
// resolution (a CIDR only with NONE or STATIC, as istiod's validation requires); each port dialled
// with an HTTP request, raw bytes and a TLS ClientHello naming the entry's host.
const entryArb = fc
  .record({
    port: fc.constantFrom(80, 443, 7000, 5432),
    protocol: fc.constantFrom('HTTP', 'TCP', 'TLS', 'HTTPS', 'GRPC'),
    address: fc.option(fc.constantFrom('240.1.1.1', '240.1.1.2', '10.0.0.0/24'), { nil: undefined }),
    resolution: fc.constantFrom('NONE', 'STATIC', 'DNS'),
  })
  .filter((e) => !(e.address?.includes('/') && e.resolution === 'DNS'));

goTest(`on 15 random sets of ServiceEntries, the model names the listener, chain and cluster istiod gives, for HTTP, raw and TLS${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const meshes = fc.sample(fc.array(entryArb, { minLength: 1, maxLength: 4 }), { numRuns: 15, seed: 20261201 });
  const spec = { istio: { version: 'current' }, pods: [{ name: 'client', workload: 'toolbox', namespace: 'default', labels: { app: 'client' } }] } as unknown as LabSpec;
  const plan = planLab(spec, '000000');
  const client = plan.hosts.find((h) => h.name === 'client')!;
  const { tables } = istioInitRules('current', {}, {}, []);
  const all: Comparison[] = [];
  for (const [i, entries] of meshes.entries()) {
    const resources = entries.map((e, n) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: `se${n}`, namespace: 'default' },
      spec: {
        hosts: [`h${n}.example.com`],
        ...(e.address ? { addresses: [e.address] } : {}),
        ports: [{ number: e.port, name: `${e.protocol.toLowerCase()}-p`, protocol: e.protocol }],
        location: 'MESH_EXTERNAL',
        resolution: e.resolution,
        ...(e.resolution === 'STATIC' ? { endpoints: [{ address: '10.0.0.50' }] } : {}),
      },
    }));
    const dumps = await istiodConfigDumps(built.istiodGen, {
      kubernetes: kubeObjectsYaml(plan, [], () => ({})),
      istio: resources.map((r) => stringify(r)).join('---\n'),
      meshConfig: '',
      proxies: [{ name: 'client', namespace: 'default', ip: client.ip, labels: { app: 'client' } }],
    });
    const istiod = parseConfigDump(dumps.get('client.default'));
    const model = parseConfigDump(synthesizeSidecar(parseMesh(meshForPod(spec, plan, client, { mode: 'ALLOW_ANY', resources }))).configDump);
    for (const [n, e] of entries.entries()) {
      const ip = e.address ? (e.address.includes('/') ? '10.0.0.7' : e.address) : '10.0.0.99';
      const payloads: Payload[] = [{ kind: 'http', host: `h${n}.example.com`, path: '/' }, { kind: 'bytes', text: 'x' }, { kind: 'tls', sni: `h${n}.example.com`, alpn: ['http/1.1'] }];
      for (const payload of payloads) {
        const dst = { ip, port: e.port };
        const kt = kernelTrace(tables, { src: client.ip, dst, podIp: client.ip, uid: 1000, gid: 1000 });
        const conn = { src: client.ip, dst, uid: 1000, payload };
        all.push({ where: `set ${i}: h${n}.example.com ${JSON.stringify(e)} ${payload.kind}`, model: hopOf(explain(kt, model, conn)), istiod: hopOf(explain(kt, istiod, conn)) });
      }
    }
  }
  const differ = all.filter((c) => c.model !== c.istiod);
  t.log(`${all.length} connections compared on ${meshes.length} random sets of ServiceEntries, ${all.length - differ.length} agree`);
  t.true(all.length > 40);
  t.deepEqual(differ.map((c) => `${c.where}\n  model:  ${c.model}\n  istiod: ${c.istiod}`), []);
});

// Sidecars and the outbound traffic policy: random Services in two namespaces, a Sidecar in the
// client's namespace whose egress hosts pick some of them (its own namespace, the other, one
// Service by name, every namespace, or none at all), and the mesh's mode; each Service port and
// an address outside the mesh dialled with an HTTP request and with raw bytes.
const egressArb = fc.option(fc.subarray(['./*', 'other/*', '*/*', 'default/s0.default.svc.cluster.local', 'other/s1.other.svc.cluster.local', '~/*'], { minLength: 1, maxLength: 2 }), { nil: undefined });

goTest(`on 12 random meshes with a Sidecar and an outbound policy, the model names the listener, chain and cluster istiod gives${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const meshes = fc.sample(fc.record({ svcs: fc.array(serviceArb, { minLength: 2, maxLength: 4 }), egress: egressArb, mode: fc.constantFrom('ALLOW_ANY', 'REGISTRY_ONLY') }), { numRuns: 12, seed: 20261202 });
  const all: Comparison[] = [];
  for (const [i, m] of meshes.entries()) {
    const pods = [0, 1, 2].map((n) => ({ name: `p${n}`, workload: 'echo', namespace: n === 1 ? 'other' : 'default', labels: { app: `p${n}` }, ports: [{ port: 8080, name: 'http' }] }));
    const spec = {
      istio: { version: 'current' },
      pods: [...pods, { name: 'client', workload: 'toolbox', namespace: 'default', labels: { app: 'client' } }],
      services: m.svcs.map((s, n) => ({
        name: `s${n}`,
        namespace: pods[n % 2 === 1 ? 1 : s.target === 1 ? 0 : s.target]!.namespace,
        selector: { app: `p${n % 2 === 1 ? 1 : s.target === 1 ? 0 : s.target}` },
        ports: [{ port: s.port, targetPort: 8080, ...(s.name ? { name: s.name } : {}), ...(s.appProtocol ? { appProtocol: s.appProtocol } : {}) }],
      })),
    } as unknown as LabSpec;
    const resources = m.egress ? [{ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: { egress: [{ hosts: m.egress }] } }] : [];
    const plan = planLab(spec, '000000');
    const client = plan.hosts.find((h) => h.name === 'client')!;
    const dumps = await istiodConfigDumps(built.istiodGen, {
      kubernetes: kubeObjectsYaml(plan, plan.services, () => ({})),
      istio: resources.map((r) => stringify(r)).join('---\n'),
      meshConfig: stringify({ outboundTrafficPolicy: { mode: m.mode } }),
      proxies: [{ name: 'client', namespace: 'default', ip: client.ip, labels: { app: 'client' } }],
    });
    const istiod = parseConfigDump(dumps.get('client.default'));
    const model = parseConfigDump(synthesizeSidecar(parseMesh(meshForPod(spec, plan, client, { mode: m.mode as 'ALLOW_ANY' | 'REGISTRY_ONLY', resources }))).configDump);
    const { tables } = istioInitRules('current', {}, {}, []);
    const targets = [...plan.services.flatMap((svc) => svc.ports.map((p) => ({ what: `${svc.name}.${svc.namespace}:${p.port} (name ${p.name ?? '-'}, appProtocol ${p.appProtocol ?? '-'})`, host: `${svc.name}.${svc.namespace}:${p.port}`, dst: { ip: svc.vip!, port: p.port } }))), { what: 'outside the mesh 10.0.0.99:7001', host: '10.0.0.99:7001', dst: { ip: '10.0.0.99', port: 7001 } }];
    for (const target of targets) {
      const payloads: Payload[] = [{ kind: 'http', host: target.host, path: '/' }, { kind: 'bytes', text: 'hello\n' }];
      for (const payload of payloads) {
        const kt = kernelTrace(tables, { src: client.ip, dst: target.dst, podIp: client.ip, uid: 1000, gid: 1000 });
        const conn = { src: client.ip, dst: target.dst, uid: 1000, payload };
        all.push({ where: `mesh ${i} (${m.mode}, Sidecar egress ${JSON.stringify(m.egress ?? null)}): ${target.what} ${payload.kind}`, model: hopOf(explain(kt, model, conn)), istiod: hopOf(explain(kt, istiod, conn)) });
      }
    }
  }
  const differ = all.filter((c) => c.model !== c.istiod);
  t.log(`${all.length} connections compared on ${meshes.length} random meshes (${meshes.filter((m) => m.egress).length} with a Sidecar, ${meshes.filter((m) => m.mode === 'REGISTRY_ONLY').length} REGISTRY_ONLY), ${all.length - differ.length} agree`);
  t.true(meshes.filter((m) => m.egress).length >= 6 && meshes.some((m) => m.mode === 'REGISTRY_ONLY') && meshes.some((m) => m.mode === 'ALLOW_ANY'), 'the sample has Sidecars, and both modes');
  t.true(all.length > 40);
  t.deepEqual(differ.map((c) => `${c.where}\n  model:  ${c.model}\n  istiod: ${c.istiod}`), []);
});

// PeerAuthentication decides a server's inbound chains: random policies (mesh-wide in the root
// namespace, the namespace's, the workload's with per-port modes), each of the server's ports
// dialled from another pod with plaintext HTTP, raw bytes, and Istio mTLS offering the HTTP and
// the TCP ALPN, compared on the server's sidecar.
const modeArb = fc.option(fc.constantFrom('STRICT', 'PERMISSIVE', 'DISABLE'), { nil: undefined });
const policyArb = fc.record({ mesh: modeArb, namespace: modeArb, workload: modeArb, port8080: modeArb, port5432: modeArb });

goTest(`on 15 random sets of PeerAuthentications, the model names the inbound listener, chain and cluster istiod gives the server${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const policies = fc.sample(policyArb, { numRuns: 15, seed: 20261203 });
  const ports = [{ port: 8080, name: 'http' }, { port: 9090 }, { port: 5432, name: 'tcp-db' }];
  const spec = {
    istio: { version: 'current' },
    pods: [
      { name: 'server', workload: 'echo', namespace: 'default', labels: { app: 'server' }, ports },
      { name: 'client', workload: 'toolbox', namespace: 'default', labels: { app: 'client' } },
    ],
    services: [{ name: 'server', namespace: 'default', selector: { app: 'server' }, ports }],
  } as unknown as LabSpec;
  const plan = planLab(spec, '000000');
  const server = plan.hosts.find((h) => h.name === 'server')!;
  const client = plan.hosts.find((h) => h.name === 'client')!;
  const { tables } = istioInitRules('current', {}, {}, ports.map((p) => p.port));
  const all: Comparison[] = [];
  for (const [i, p] of policies.entries()) {
    const pa = (name: string, namespace: string, mode: string | undefined, extra: Record<string, unknown> = {}) =>
      mode === undefined && Object.keys(extra).length === 0 ? [] : [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace }, spec: { ...(mode ? { mtls: { mode } } : {}), ...extra } }];
    const portLevel = Object.fromEntries([[8080, p.port8080], [5432, p.port5432]].filter(([, m]) => m !== undefined).map(([port, mode]) => [String(port), { mode }]));
    const resources = [
      ...pa('mesh', 'istio-system', p.mesh),
      ...pa('namespace', 'default', p.namespace),
      ...(p.workload !== undefined || Object.keys(portLevel).length > 0 ? pa('server', 'default', p.workload, { selector: { matchLabels: { app: 'server' } }, ...(Object.keys(portLevel).length > 0 ? { portLevelMtls: portLevel } : {}) }) : []),
    ];
    const dumps = await istiodConfigDumps(built.istiodGen, {
      kubernetes: kubeObjectsYaml(plan, plan.services, () => ({})),
      istio: resources.map((r) => stringify(r)).join('---\n'),
      meshConfig: '',
      proxies: [{ name: 'server', namespace: 'default', ip: server.ip, labels: { app: 'server' } }],
    });
    const istiod = parseConfigDump(dumps.get('server.default'));
    const model = parseConfigDump(synthesizeSidecar(parseMesh(meshForPod(spec, plan, server, { mode: 'ALLOW_ANY', resources }))).configDump);
    for (const { port } of ports) {
      const sni = `outbound_.${port}_._.server.default.svc.cluster.local`;
      const payloads: Array<[string, Payload]> = [
        ['plaintext HTTP', { kind: 'http', host: `server:${port}`, path: '/' }],
        ['raw bytes', { kind: 'bytes', text: 'hello\n' }],
        ['mTLS, HTTP ALPN', { kind: 'tls', sni, alpn: ['istio-http/1.1'] }],
        ['mTLS, TCP ALPN', { kind: 'tls', sni, alpn: ['istio'] }],
      ];
      for (const [what, payload] of payloads) {
        const dst = { ip: server.ip, port };
        const kt = kernelTrace(tables, { src: client.ip, dst, podIp: server.ip });
        const conn = { src: client.ip, dst, payload };
        all.push({ where: `set ${i} ${JSON.stringify(p)}: server:${port} ${what}`, model: hopOf(explain(kt, model, conn)), istiod: hopOf(explain(kt, istiod, conn)) });
      }
    }
  }
  const differ = all.filter((c) => c.model !== c.istiod);
  t.log(`${all.length} inbound connections compared on ${policies.length} random sets of PeerAuthentications, ${all.length - differ.length} agree`);
  t.true(all.length > 100);
  t.deepEqual(differ.map((c) => `${c.where}\n  model:  ${c.model}\n  istiod: ${c.istiod}`), []);
});

// istiod's TLS inspector on a DISABLE workload with one STRICT port is a `not_match`: explain must
// read it as "on for 5432 only" (it read no ports at all before), on istiod's own dump.
goTest(`explain reads istiod's not_match TLS inspector: a DISABLE workload with a STRICT port inspects TLS on that port only${NEEDS_GO}`, async (t) => {
  const built = await builtIstio(pin);
  if (!built) return t.fail(`istiod-gen (${pin.label}) is not built: npm run system-deps builds it with Go ${GO.version ?? ''}`);
  const ports = [{ port: 8080, name: 'http' }, { port: 5432, name: 'tcp-db' }];
  const spec = { istio: { version: 'current' }, pods: [{ name: 'server', workload: 'echo', namespace: 'default', labels: { app: 'server' }, ports }], services: [{ name: 'server', namespace: 'default', selector: { app: 'server' }, ports }] } as unknown as LabSpec;
  const plan = planLab(spec, '000000');
  const server = plan.hosts.find((h) => h.name === 'server')!;
  const pa = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'server', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'server' } }, mtls: { mode: 'DISABLE' }, portLevelMtls: { '5432': { mode: 'STRICT' } } } };
  const dumps = await istiodConfigDumps(built.istiodGen, { kubernetes: kubeObjectsYaml(plan, plan.services, () => ({})), istio: stringify(pa), meshConfig: '', proxies: [{ name: 'server', namespace: 'default', ip: server.ip, labels: { app: 'server' } }] });
  const istiod = parseConfigDump(dumps.get('server.default'));
  const vi = istiod.listeners!.find((l) => l.name === 'virtualInbound')!;
  t.deepEqual(vi.listenerFilters.find((f) => f.name.endsWith('tls_inspector'))?.onlyPorts, [{ start: 5432, end: 5433 }]);
  const { tables } = istioInitRules('current', {}, {}, [8080, 5432]);
  const mtls = (port: number) => {
    const conn = { src: '10.64.0.99', dst: { ip: server.ip, port }, payload: { kind: 'tls' as const, sni: `outbound_.${port}_._.server.default.svc.cluster.local`, alpn: ['istio'] } };
    return explain(kernelTrace(tables, { src: conn.src, dst: conn.dst, podIp: server.ip }), istiod, conn);
  };
  t.is(hopOf(mtls(5432)), 'listener=virtualInbound chain=0.0.0.0_5432 cluster=inbound|5432||', 'TLS seen on the STRICT port');
  t.is(mtls(8080).filterChain, '0.0.0.0_8080', 'the TLS inspector is off on 8080: the bytes take the plaintext chain');
});
