// A config dump of Envoy's v2 API (Istio 1.5 and before: istio-proxy 1.1–1.5) restated in the v3
// API that upstream Envoy 1.38 reads, so that a legacy capture can be replayed. Only what those
// dumps hold is upgraded, each change by what Envoy's v2→v3 migration says of the field, and
// anything else of the v2 API it meets is refused by name rather than guessed:
// - the resources' type URLs (envoy.api.v2.Listener → envoy.config.listener.v3.Listener, …); a
//   v2alpha admin dump's untyped resources (Envoy 1.12 and before) are typed by their place first;
// - a filter's `config` (an untyped Struct) → `typed_config` of the filter's v3 type, by its name
//   (FILTER_TYPES); a filter with neither gets its type too (v3 looks extensions up by type); a
//   typed v2 filter gets the v3 type of its v2 type, else of its name;
// - `tls_context` → a `transport_socket` (envoy.transport_sockets.tls) of the same TLS context;
// - a listener's `deprecated_v1.bind_to_port` → `bind_to_port`;
// - a cluster's `hosts` → `load_assignment`; lb_policy ORIGINAL_DST_LB → CLUSTER_PROVIDED;
// - `regex` (routes, string matchers) → `safe_regex`; a header's `regex_match` → `safe_regex_match`;
//   `verify_subject_alt_name` → `match_subject_alt_names` (exact);
// - the file access log's `format` → `log_format`; HCM tracing's `operation_name` is dropped (v3
//   takes the direction from the listener); `idle_timeout` → common_http_protocol_options;
// - a v1-style tcp_proxy (`deprecated_v1` routes) → its one route's cluster.
// A v2 type left after all that is refused by name.
// protoNames() gives a dump in protojson's camelCase field names (istioctl's test data) the
// protos' own names first.
// Pure.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const T = 'type.googleapis.com/';

/** The v2 resources' types and their v3 names. */
const RESOURCE_TYPES: Record<string, string> = {
  'envoy.api.v2.Listener': 'envoy.config.listener.v3.Listener',
  'envoy.api.v2.Cluster': 'envoy.config.cluster.v3.Cluster',
  'envoy.api.v2.RouteConfiguration': 'envoy.config.route.v3.RouteConfiguration',
  'envoy.api.v2.ClusterLoadAssignment': 'envoy.config.endpoint.v3.ClusterLoadAssignment',
};

/** Upstream filters and extensions by their v2 names (and v2 typed_config types), with their v3 types. */
const FILTER_TYPES: Record<string, string> = {
  'envoy.http_connection_manager': 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.tcp_proxy': 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.filters.network.rbac': 'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.file_access_log': 'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.router': 'envoy.extensions.filters.http.router.v3.Router',
  'envoy.cors': 'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.fault': 'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.filters.http.rbac': 'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.listener.original_dst': 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.listener.tls_inspector': 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.listener.http_inspector': 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.retry_host_predicates.previous_hosts': 'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
};
const V2_TYPED: Record<string, string> = {
  'envoy.config.filter.network.tcp_proxy.v2.TcpProxy': FILTER_TYPES['envoy.tcp_proxy']!,
  'envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager': FILTER_TYPES['envoy.http_connection_manager']!,
  'envoy.config.accesslog.v2.FileAccessLog': FILTER_TYPES['envoy.file_access_log']!,
  'envoy.api.v2.auth.UpstreamTlsContext': 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.api.v2.auth.DownstreamTlsContext': 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
};

/** Where a v2alpha admin dump (Envoy 1.12 and before) keeps each kind of resource, untyped: their v2 types by place. */
const RESOURCE_PLACES: Array<{ section: string; lists: string[]; key: string; type: string }> = [
  { section: 'ListenersConfigDump', lists: ['static_listeners', 'dynamic_active_listeners', 'dynamic_listeners'], key: 'listener', type: 'envoy.api.v2.Listener' },
  { section: 'ClustersConfigDump', lists: ['static_clusters', 'dynamic_active_clusters'], key: 'cluster', type: 'envoy.api.v2.Cluster' },
  { section: 'RoutesConfigDump', lists: ['static_route_configs', 'dynamic_route_configs'], key: 'route_config', type: 'envoy.api.v2.RouteConfiguration' },
];

export class V2UpgradeError extends Error {
  override name = 'V2UpgradeError';
}

/** Whether a dump (or any resource in it) is of the v2 API. */
export function isV2Dump(dump: unknown): boolean {
  return /"type\.googleapis\.com\/envoy\.(api\.v2\.|admin\.v2alpha\.|config\.filter\.[\w.]+\.v2\.)/.test(JSON.stringify(dump));
}

/** The dump with every resource typed: a v2alpha dump's resources have no `@type`, their place says what they are. */
function typedByPlace(dump: Json): Json {
  if (!isObj(dump) || !Array.isArray(dump.configs)) return dump;
  return {
    ...dump,
    configs: dump.configs.map((c) => {
      if (!isObj(c) || typeof c['@type'] !== 'string') return c;
      const place = RESOURCE_PLACES.find((p) => (c['@type'] as string).endsWith(`.${p.section}`));
      if (!place) return c;
      const out: Obj = { ...c };
      for (const list of place.lists) {
        if (!Array.isArray(c[list])) continue;
        out[list] = c[list].map((w) => {
          if (!isObj(w)) return w;
          // dynamic_listeners keep the listener under active_state.
          const holder = isObj(w.active_state) ? w.active_state : w;
          const r = holder[place.key];
          if (!isObj(r) || r['@type'] !== undefined) return w;
          const typed = { ...holder, [place.key]: { '@type': `${T}${place.type}`, ...r } };
          return isObj(w.active_state) ? { ...w, active_state: typed } : typed;
        });
      }
      return out;
    }),
  };
}

/** protojson's lowerCamel field name → the proto's; map keys (labels, metadata: dots, dashes, upper case) stay. */
const protoName = (k: string): string => (/^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*$/.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k);
function snakeKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (!isObj(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [protoName(k), snakeKeys(x)]));
}

/** A dump in protojson's camelCase field names (istioctl's test data) with the protos' own names, as the admin's /config_dump prints them. */
export function protoNames(dump: unknown, changes: string[]): unknown {
  const text = JSON.stringify(dump);
  if (!/"(dynamicListeners|staticListeners|dynamicActiveClusters|staticClusters)"/.test(text)) return dump;
  changes.push('protojson camelCase field names → the protos\' own (snake_case)');
  return snakeKeys(dump as Json);
}

const safeRegex = (regex: Json): Obj => ({ google_re2: {}, regex });

/** The dump restated in the v3 API; `changes` says what was restated, a line per kind and place. */
export function upgradeV2Dump(dump: unknown, isIstioOnly: (name: string) => boolean): { dump: unknown; changes: string[] } {
  const changes = new Set<string>();

  /** A filter (network, HTTP, listener, access logger, retry predicate) by name: typed, its body upgraded. */
  const filter = (f: Obj, where: string): Obj => {
    const name = String(f.name ?? '');
    if (isIstioOnly(name)) return f; // replay removes it, whatever its shape
    const tc = isObj(f.typed_config) ? f.typed_config : undefined;
    if (tc && typeof tc['@type'] === 'string') {
      const v2 = tc['@type'].slice(T.length);
      // A typed v2 filter: by its type, else by its name (the router, cors, fault, RBAC of Istio 1.3–1.5).
      const v3 = V2_TYPED[v2] ?? (/\.v2(alpha)?\./.test(v2) ? FILTER_TYPES[name] : undefined);
      if (!v3 && /\.v2(alpha)?\./.test(v2)) throw new V2UpgradeError(`${where}: filter ${name} of v2 type ${v2}: not upgraded by pathlab`);
      return v3 ? { name, typed_config: body(v3, { ...tc, '@type': `${T}${v3}` }, where) } : walk(f, where) as Obj;
    }
    const v3 = FILTER_TYPES[name];
    if (!v3) throw new V2UpgradeError(`${where}: filter ${name} of the v2 API: not upgraded by pathlab (its v3 type is not known here)`);
    changes.add(`filters' untyped config → typed_config of their v3 type (${name} → ${v3.replace(/^envoy\.extensions\./, '')})`);
    const cfg = isObj(f.config) ? f.config : {};
    return { name, typed_config: body(v3, { '@type': `${T}${v3}`, ...cfg }, where) };
  };

  /** A typed filter config's own v2 fields. */
  const body = (type: string, cfg: Obj, where: string): Obj => {
    const o = { ...cfg };
    if (type.endsWith('FileAccessLog') && typeof o.format === 'string') {
      o.log_format = { text_format_source: { inline_string: o.format } };
      delete o.format;
      changes.add('file access log: format → log_format');
    }
    if (type.endsWith('HttpConnectionManager')) {
      if (isObj(o.tracing) && 'operation_name' in o.tracing) {
        const { operation_name: _dropped, ...rest } = o.tracing;
        o.tracing = rest;
        changes.add('HTTP connection manager: tracing.operation_name dropped (v3 has none; the listener gives the direction)');
      }
      if ('idle_timeout' in o) {
        o.common_http_protocol_options = { ...(isObj(o.common_http_protocol_options) ? o.common_http_protocol_options : {}), idle_timeout: o.idle_timeout };
        delete o.idle_timeout;
        changes.add('HTTP connection manager: idle_timeout → common_http_protocol_options.idle_timeout');
      }
    }
    if (type.endsWith('TcpProxy') && o.deprecated_v1 !== undefined) {
      const v1 = isObj(o.value) ? o.value : o;
      const routes = isObj(v1.route_config) && Array.isArray(v1.route_config.routes) ? v1.route_config.routes.filter(isObj) : [];
      const route = routes[0];
      const conditions = route ? Object.keys(route).filter((k) => k !== 'cluster') : [];
      if (routes.length !== 1 || typeof route!.cluster !== 'string' || conditions.some((k) => k !== 'destination_ip_list'))
        throw new V2UpgradeError(`${where}: a v1 tcp_proxy with ${routes.length} route(s) (${conditions.join(', ') || 'no conditions'}): not upgraded by pathlab (one route, matching destination addresses at most)`);
      changes.add(`${where}: v1 tcp_proxy → its one route's cluster ${String(route!.cluster)}${conditions.length ? ` (its destination_ip_list ${JSON.stringify(route!.destination_ip_list)} is no longer checked: the listener's own address decides)` : ''}`);
      return walk({ '@type': o['@type']!, stat_prefix: v1.stat_prefix ?? o.stat_prefix ?? 'tcp', cluster: route!.cluster! }, where) as Obj;
    }
    if (type.endsWith('TcpProxy') && !o.stat_prefix) {
      o.stat_prefix = typeof o.cluster === 'string' ? o.cluster : 'tcp';
      changes.add('tcp_proxy without stat_prefix (v3 requires one) → its cluster\'s name');
    }
    return walk(o, where) as Obj;
  };

  const tlsSocket = (ctx: Json, kind: 'Downstream' | 'Upstream'): Obj => {
    changes.add('tls_context → transport_socket envoy.transport_sockets.tls');
    return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': `${T}envoy.extensions.transport_sockets.tls.v3.${kind}TlsContext`, ...(walk(ctx, 'tls') as Obj) } };
  };

  /** Every object: the field-level upgrades, filters in the lists that hold them. */
  const walk = (v: Json, where: string): Json => {
    if (Array.isArray(v)) return v.map((x) => walk(x, where));
    if (!isObj(v)) return v;
    const out: Obj = {};
    const type = typeof v['@type'] === 'string' ? v['@type'].slice(T.length) : '';
    const here = typeof v.name === 'string' && RESOURCE_TYPES[type] ? `${type.split('.').pop()} ${v.name}` : where;
    for (const [k, x] of Object.entries(v)) {
      if (k === '@type' && typeof x === 'string' && RESOURCE_TYPES[type]) {
        out[k] = `${T}${RESOURCE_TYPES[type]}`;
        changes.add('v2 type URLs → v3 (envoy.api.v2.X → envoy.config.*.v3.X)');
      } else if (['filters', 'http_filters', 'listener_filters', 'access_log', 'retry_host_predicate'].includes(k) && (Array.isArray(x) || isObj(x))) {
        // A Struct config could give a one-filter list as the filter itself (Istio 1.1's bootstrap: `http_filters: {name: envoy.router}`).
        if (!Array.isArray(x)) changes.add(`${k} given as one object → a list of it`);
        out[k] = (Array.isArray(x) ? x : [x]).map((f) => (isObj(f) ? filter(f, here) : f));
      } else if (k === 'route_config' && isObj(x) && typeof x['@type'] === 'string') {
        // An inline route configuration is typed by its place.
        const { '@type': _typed, ...rc } = x;
        out[k] = walk(rc, here);
      } else if (k === 'tls_context') {
        out.transport_socket = tlsSocket(x, type.endsWith('Cluster') ? 'Upstream' : 'Downstream');
      } else if (k === 'deprecated_v1' && isObj(x) && 'bind_to_port' in x) {
        out.bind_to_port = x.bind_to_port!;
        changes.add('listener deprecated_v1.bind_to_port → bind_to_port');
      } else if (k === 'hosts' && type.endsWith('Cluster') && Array.isArray(x)) {
        out.load_assignment = { cluster_name: v.name ?? '', endpoints: [{ lb_endpoints: x.map((address) => ({ endpoint: { address: walk(address, here) } })) }] };
        changes.add('cluster hosts → load_assignment');
      } else if (k === 'lb_policy' && x === 'ORIGINAL_DST_LB') {
        out[k] = 'CLUSTER_PROVIDED';
        changes.add('lb_policy ORIGINAL_DST_LB → CLUSTER_PROVIDED');
      } else if (k === '@type' && typeof x === 'string' && V2_TYPED[x.slice(T.length)]) {
        out[k] = `${T}${V2_TYPED[x.slice(T.length)]}`;
        changes.add(`${x.slice(T.length)} → ${V2_TYPED[x.slice(T.length)]}`);
      } else if (k === 'regex' && typeof x === 'string' && !('google_re2' in v)) {
        out.safe_regex = safeRegex(x);
        changes.add('regex → safe_regex (RE2)');
      } else if (k === 'regex_match' && typeof x === 'string') {
        out.safe_regex_match = safeRegex(x);
        changes.add('header regex_match → safe_regex_match (RE2)');
      } else if (k === 'verify_subject_alt_name' && Array.isArray(x)) {
        out.match_subject_alt_names = x.map((exact) => ({ exact }));
        changes.add('verify_subject_alt_name → match_subject_alt_names (exact)');
      } else if (k === 'safe_regex') {
        out[k] = x;
      } else if (k === 'per_filter_config' && isObj(x)) {
        const kept = Object.keys(x).filter((name) => !isIstioOnly(name));
        if (kept.length) throw new V2UpgradeError(`${here}: per_filter_config of ${kept.join(', ')}: not upgraded by pathlab`);
        changes.add('per_filter_config of Istio\'s own filters (mixer) dropped with their filters');
      } else if (k === 'use_websocket') {
        changes.add('route use_websocket dropped (v1; the HTTP connection manager\'s upgrade_configs carry websockets)');
      } else {
        out[k] = walk(x, here);
      }
    }
    return out;
  };

  const out = walk(typedByPlace(dump as Json), 'dump');
  // Nothing of v2 may be left: a type the upgrade does not know is refused by name, not passed to Envoy.
  const left = /"type\.googleapis\.com\/(envoy\.(?:api\.v2\.|config\.[\w.]+\.v2(?:alpha)?\.)[\w.]+)"/.exec(JSON.stringify(out));
  if (left) throw new V2UpgradeError(`${left[1]}: a v2 type not upgraded by pathlab`);
  return { dump: out, changes: [...changes] };
}
