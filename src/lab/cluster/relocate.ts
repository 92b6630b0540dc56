// A scenario moved into namespaces of the run's own, for a cluster that is not a lab: each
// namespace the scenario names (its pods', its Services', its setup objects'; `default` when it
// names none) becomes `pathlab-<run id>-<name>`, and every place the scenario says that
// namespace follows: `namespace:` fields, Sidecar hosts `ns/host`, exportTo entries, host
// names `name.ns`, `name.ns.svc[.cluster.local]` (also inside expected hops: Envoy cluster
// names such as `outbound|9080||details.default.svc.cluster.local`), in the scenario and in
// the files its setup applies. A scenario that would change something of the cluster's own
// (a mesh-wide object in istio-system, the mesh config, a namespace it does not name) is not
// moved: `relocationProblem` says why. Pure.
import { parseAllDocuments, stringify } from 'yaml';
import { loadedScenario, type LoadedScenario } from '../../scenario/loaded.ts';
import type { Scenario } from '../../scenario/schema.ts';

/** Kubernetes' limit on a namespace's name (a DNS label). */
const MAX_NAMESPACE = 63;
/** Namespaces of the cluster's own that a scenario may not be moved out of (its objects there are mesh-wide or the system's). */
const SYSTEM_NAMESPACES = ['istio-system', 'kube-system', 'kube-public', 'kube-node-lease'];

export const runNamespace = (runId: string, ns: string) => `pathlab-${runId}-${ns}`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The namespaces a scenario names: its pods', its Services' and its setup objects' (`default` when unnamed). */
export function scenarioNamespaces(s: LoadedScenario): string[] {
  const out = new Set<string>();
  for (const p of s.scenario.lab.pods) out.add(p.namespace ?? 'default');
  for (const v of s.scenario.lab.services ?? []) out.add(v.namespace ?? 'default');
  for (const o of setupObjects(s)) out.add(o.metadata?.namespace ?? 'default');
  return [...out].sort();
}

function setupObjects(s: LoadedScenario): Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }> {
  const out: Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }> = [];
  for (const step of s.scenario.setup ?? []) {
    if (step.apply) out.push(step.apply as { metadata?: { namespace?: string } });
    if (step.applyFile !== undefined) for (const d of parseAllDocuments(s.files[step.applyFile] ?? '')) if (d.toJS()) out.push(d.toJS() as { metadata?: { namespace?: string } });
  }
  return out;
}

/** Why this scenario cannot be moved into the run's namespaces on a cluster that is not a lab, or undefined. */
export function relocationProblem(s: LoadedScenario, runId: string): string | undefined {
  const sc = s.scenario;
  if ((sc.lab.externalHosts ?? []).length) return `it needs external hosts (${sc.lab.externalHosts!.map((h) => `${h.name} at ${h.address}`).join(', ')}), which run beside a kind lab, not beside a cluster that is not a lab`;
  if (sc.lab.meshConfig !== undefined || (sc.setup ?? []).some((st) => st.meshConfig !== undefined)) return 'it sets the mesh config, which on a cluster that is not a lab is the cluster\'s own';
  for (const o of setupObjects(s)) {
    const ns = o.metadata?.namespace;
    if (ns !== undefined && SYSTEM_NAMESPACES.includes(ns)) return `its setup applies ${o.kind ?? 'an object'} ${o.metadata?.name ?? ''} in ${ns}, which acts on the whole cluster or mesh`;
  }
  for (const p of sc.lab.pods) if (p.namespace !== undefined && SYSTEM_NAMESPACES.includes(p.namespace)) return `its pod ${p.name} is in ${p.namespace}, a namespace of the cluster's own`;
  const long = scenarioNamespaces(s).find((ns) => runNamespace(runId, ns).length > MAX_NAMESPACE);
  if (long) return `its namespace ${long} would be ${runNamespace(runId, long)}, longer than Kubernetes' ${MAX_NAMESPACE} characters`;
  return undefined;
}

/** Moves every string that names one of `map`'s namespaces. `key` is the field the string is in. */
function moveString(v: string, key: string | undefined, inExportTo: boolean, map: ReadonlyMap<string, string>): string {
  if ((key === 'namespace' || inExportTo) && map.has(v)) return map.get(v)!;
  let out = v;
  for (const [from, to] of map) {
    // `ns/host` (Sidecar egress and VirtualService exportTo-style references).
    if (out.startsWith(`${from}/`)) out = `${to}${out.slice(from.length)}`;
    // name.ns.svc, name.ns.svc.cluster.local, anywhere (host names, Envoy cluster names).
    out = out.replace(new RegExp(`(?<=[a-z0-9*-]\\.)${from}(?=\\.svc\\b)`, 'g'), to);
    // A probe's short host `name.ns`.
    if (key === 'host' && new RegExp(`^[a-z0-9-]+\\.${from}$`).test(out)) out = `${out.slice(0, -from.length)}${to}`;
  }
  return out;
}

function moveJson(v: Json, map: ReadonlyMap<string, string>, key?: string, inExportTo = false): Json {
  if (typeof v === 'string') return moveString(v, key, inExportTo, map);
  if (Array.isArray(v)) return v.map((x) => moveJson(x, map, key, key === 'exportTo'));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, moveJson(x, map, k)]));
  return v;
}

/** A Kubernetes object with its namespace made explicit (`default` when unnamed), then moved. */
function moveObject(o: Json, map: ReadonlyMap<string, string>): Json {
  const obj = o as { metadata?: { namespace?: string } };
  const explicit = obj.metadata ? { ...obj, metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? 'default' } } : obj;
  return moveJson(explicit as Json, map);
}

/** The scenario in the run's namespaces (check relocationProblem first). */
export function relocate(s: LoadedScenario, runId: string): LoadedScenario {
  const map = new Map(scenarioNamespaces(s).map((ns) => [ns, runNamespace(runId, ns)]));
  const sc = structuredClone(s.scenario) as Scenario;
  for (const p of sc.lab.pods) p.namespace ??= 'default';
  for (const v of sc.lab.services ?? []) v.namespace ??= 'default';
  for (const step of sc.setup ?? []) if (step.apply) step.apply = moveObject(step.apply as unknown as Json, map) as unknown as typeof step.apply;
  const { setup, ...rest } = sc;
  const moved = { ...(moveJson(rest as unknown as Json, map) as unknown as Omit<Scenario, 'setup'>), ...(setup ? { setup } : {}) } as Scenario;
  const files = Object.fromEntries(
    Object.entries(s.files).map(([rel, text]) => [
      rel,
      parseAllDocuments(text)
        .map((d) => d.toJS() as Json)
        .filter((o) => o !== null && o !== undefined)
        .map((o) => stringify(moveObject(o, map), { lineWidth: 0 }))
        .join('---\n'),
    ]),
  );
  return loadedScenario(s.file, moved, files);
}
