// Parses Envoy's admin `/config_dump` (v2 `envoy.api.v2.*` and v3 `envoy.config.*.v3.*` type
// URLs, snake_case as Envoy writes it or camelCase as protojson / istioctl write it) and the
// `istioctl proxy-config listeners|clusters|routes|all -o json` outputs into an EnvoyConfig.
import type {
  BootstrapInfo,
  CidrRange,
  Cluster,
  ClusterLoadAssignment,
  EnvoyConfig,
  FilterChain,
  FilterChainMatch,
  Listener,
  ListenerFilter,
  NetworkFilter,
  Route,
  RouteAction,
  RouteConfiguration,
  SecretEntry,
  VirtualHost,
} from './envoy-config.ts';

/** The document is not an Envoy config dump; the message says what was found and what was expected. */
export class ConfigDumpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigDumpError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const snakeCache = new Map<string, string>();

function camelToSnake(key: string): string {
  let snake = snakeCache.get(key);
  if (snake === undefined) {
    snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCache.set(key, snake);
  }
  return snake;
}

/** Reads a field in either spelling: `useOriginalDst` or `use_original_dst`. */
function get(o: unknown, camel: string): unknown {
  if (!isObj(o)) return undefined;
  const v = o[camel];
  return v !== undefined ? v : o[camelToSnake(camel)];
}

function obj(o: unknown, camel: string): Obj | undefined {
  const v = get(o, camel);
  return isObj(v) ? v : undefined;
}

function arr(o: unknown, camel: string): unknown[] {
  const v = get(o, camel);
  return Array.isArray(v) ? v : [];
}

function str(o: unknown, camel: string): string | undefined {
  const v = get(o, camel);
  return typeof v === 'string' ? v : undefined;
}

/** Protobuf wrappers (UInt32Value) appear as a bare number or as {value: n}; int64 as strings. */
function num(o: unknown, camel: string): number | undefined {
  let v = get(o, camel);
  if (isObj(v) && 'value' in v) v = v.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function bool(o: unknown, camel: string): boolean | undefined {
  let v = get(o, camel);
  if (isObj(v) && 'value' in v) v = v.value;
  return typeof v === 'boolean' ? v : undefined;
}

/** A filter's config: v3 `typed_config` (possibly a udpa TypedStruct), or v2 `config`. */
function filterConfig(f: unknown): Obj {
  const typed = obj(f, 'typedConfig');
  if (typed) {
    const t = str(typed, '@type') ?? '';
    if (t.endsWith('udpa.type.v1.TypedStruct') || t.endsWith('xds.type.v3.TypedStruct')) {
      return obj(typed, 'value') ?? {};
    }
    return typed;
  }
  return obj(f, 'config') ?? {};
}

function typeUrl(f: unknown): string {
  return str(obj(f, 'typedConfig'), '@type') ?? '';
}

function cidrs(list: unknown[]): CidrRange[] {
  return list.filter(isObj).map((r) => ({
    addressPrefix: str(r, 'addressPrefix') ?? '',
    prefixLen: num(r, 'prefixLen') ?? 0,
  }));
}

function parseMatch(m: unknown): FilterChainMatch {
  const sourceType = str(m, 'sourceType');
  return {
    destinationPort: num(m, 'destinationPort'),
    prefixRanges: cidrs(arr(m, 'prefixRanges')),
    serverNames: arr(m, 'serverNames').filter((s): s is string => typeof s === 'string'),
    transportProtocol: str(m, 'transportProtocol') || undefined,
    applicationProtocols: arr(m, 'applicationProtocols').filter((s): s is string => typeof s === 'string'),
    directSourcePrefixRanges: cidrs(arr(m, 'directSourcePrefixRanges')),
    sourceType:
      sourceType === 'SAME_IP_OR_LOOPBACK' || sourceType === 'EXTERNAL' || sourceType === 'ANY'
        ? sourceType
        : undefined,
    sourcePrefixRanges: cidrs(arr(m, 'sourcePrefixRanges')),
    sourcePorts: arr(m, 'sourcePorts').filter((p): p is number => typeof p === 'number'),
  };
}

const HCM_NAMES = new Set(['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager']);
const TCP_PROXY_NAMES = new Set(['envoy.filters.network.tcp_proxy', 'envoy.tcp_proxy']);

function parseNetworkFilter(f: unknown): NetworkFilter {
  const name = str(f, 'name') ?? '';
  const url = typeUrl(f);
  const cfg = filterConfig(f);
  if (HCM_NAMES.has(name) || url.endsWith('.HttpConnectionManager')) {
    const rds = str(obj(cfg, 'rds'), 'routeConfigName');
    const inline = obj(cfg, 'routeConfig');
    return {
      kind: 'http_connection_manager',
      name,
      ...(rds !== undefined ? { rds } : {}),
      ...(inline ? { routeConfig: parseRouteConfiguration(inline) } : {}),
    };
  }
  if (TCP_PROXY_NAMES.has(name) || url.endsWith('.TcpProxy')) {
    let cluster = str(cfg, 'cluster');
    if (cluster === undefined) {
      // weighted_clusters: take the first (the matcher reports it; the table shows it).
      const first = arr(obj(cfg, 'weightedClusters'), 'clusters')[0];
      cluster = str(first, 'name') ?? '';
    }
    return { kind: 'tcp_proxy', name, cluster };
  }
  return { kind: 'other', name };
}

function parseFilterChain(c: unknown, position: number | 'default'): FilterChain {
  const name = str(c, 'name');
  return {
    ...(name ? { name } : {}),
    position,
    match: parseMatch(obj(c, 'filterChainMatch') ?? {}),
    filters: arr(c, 'filters').map(parseNetworkFilter),
    tls: isObj(get(c, 'transportSocket')) || isObj(get(c, 'tlsContext')),
  };
}

/** Destination port ranges a listener filter's `filter_disabled` matcher names (or_match included). */
function disabledPorts(m: unknown): Array<{ start: number; end: number }> {
  if (!isObj(m)) return [];
  const range = obj(m, 'destinationPortRange');
  if (range) return [{ start: num(range, 'start') ?? 0, end: num(range, 'end') ?? 0 }];
  const or = obj(m, 'orMatch');
  if (or) return arr(or, 'rules').flatMap(disabledPorts);
  return [];
}

/**
 * A listener filter and the ports it is off for: its `filter_disabled` matcher's port ranges
 * (or_match included), or, for a `not_match` of them (istiod writes one on virtualInbound when
 * only some ports need the TLS inspector), the ranges it stays on for.
 */
function parseListenerFilter(f: unknown): ListenerFilter {
  const disabled = get(f, 'filterDisabled');
  const not = isObj(disabled) ? get(disabled, 'notMatch') : undefined;
  if (not !== undefined) return { name: str(f, 'name') ?? '', disabledPorts: [], onlyPorts: disabledPorts(not) };
  return { name: str(f, 'name') ?? '', disabledPorts: disabledPorts(disabled) };
}

/** A protobuf Duration as JSON: "0s", "0.100s", or {seconds, nanos}. */
function seconds(v: unknown): number | undefined {
  if (typeof v === 'string' && /^[\d.]+s$/.test(v)) return Number(v.slice(0, -1));
  if (isObj(v)) return (num(v, 'seconds') ?? 0) + (num(v, 'nanos') ?? 0) / 1e9;
  return undefined;
}

export function parseListener(l: Obj): Listener {
  const sock = obj(obj(l, 'address'), 'socketAddress');
  const pipe = obj(obj(l, 'address'), 'pipe');
  const def = obj(l, 'defaultFilterChain');
  const deprecatedV1 = obj(l, 'deprecatedV1');
  return {
    name: str(l, 'name') ?? '',
    address: str(sock, 'address') ?? str(pipe, 'path') ?? '',
    port: num(sock, 'portValue') ?? 0,
    additionalAddresses: arr(l, 'additionalAddresses').map(
      (a) => str(obj(obj(a, 'address'), 'socketAddress'), 'address') ?? '',
    ),
    useOriginalDst: bool(l, 'useOriginalDst') ?? false,
    bindToPort: bool(l, 'bindToPort') ?? bool(deprecatedV1, 'bindToPort') ?? true,
    internal: isObj(get(l, 'internalListener')),
    trafficDirection: str(l, 'trafficDirection'),
    listenerFilters: arr(l, 'listenerFilters').map(parseListenerFilter),
    listenerFiltersTimeout: seconds(get(l, 'listenerFiltersTimeout')) ?? 15,
    continueOnListenerFiltersTimeout: bool(l, 'continueOnListenerFiltersTimeout') ?? false,
    filterChains: arr(l, 'filterChains').map((c, i) => parseFilterChain(c, i)),
    ...(def ? { defaultFilterChain: parseFilterChain(def, 'default') } : {}),
    hasFilterChainMatcher: isObj(get(l, 'filterChainMatcher')),
    raw: l,
  };
}

/** filter_metadata.istio.config: the path of the Istio resource behind a route or cluster. */
function istioConfig(metadata: unknown): string | undefined {
  return str(obj(obj(metadata, 'filterMetadata'), 'istio'), 'config');
}

function parseRouteAction(r: Obj): RouteAction {
  const route = obj(r, 'route');
  if (route) {
    const cluster = str(route, 'cluster');
    if (cluster !== undefined) return { kind: 'cluster', cluster };
    const weighted = arr(obj(route, 'weightedClusters'), 'clusters');
    if (weighted.length > 0) {
      return { kind: 'weighted_clusters', clusters: weighted.map((w) => str(w, 'name') ?? '') };
    }
    return { kind: 'other' };
  }
  const direct = obj(r, 'directResponse');
  if (direct) {
    const body = str(obj(direct, 'body'), 'inlineString');
    return { kind: 'direct_response', status: num(direct, 'status') ?? 0, ...(body ? { body } : {}) };
  }
  if (obj(r, 'redirect')) return { kind: 'redirect' };
  return { kind: 'other' };
}

function parseRoute(r: unknown): Route {
  const m = obj(r, 'match') ?? {};
  const regex = obj(m, 'safeRegex');
  const name = str(r, 'name');
  const cfg = istioConfig(get(r, 'metadata'));
  return {
    ...(name ? { name } : {}),
    match: {
      prefix: str(m, 'prefix'),
      path: str(m, 'path'),
      safeRegex: regex ? str(regex, 'regex') : undefined,
      pathSeparatedPrefix: str(m, 'pathSeparatedPrefix'),
    },
    action: parseRouteAction(isObj(r) ? r : {}),
    ...(cfg ? { istioConfig: cfg } : {}),
    ...faultAbortOf(r),
  };
}

/** A route's fault filter abort: typed_per_filter_config["envoy.filters.http.fault"].abort (HTTPFault). */
function faultAbortOf(r: unknown): { faultAbort?: { status: number; percent: number } } {
  const fault = obj(obj(r, 'typedPerFilterConfig'), 'envoy.filters.http.fault');
  const abort = obj(fault, 'abort');
  const status = num(abort, 'httpStatus');
  if (status === undefined) return {};
  // FractionalPercent: numerator over HUNDRED (default), TEN_THOUSAND or MILLION.
  const pct = obj(abort, 'percentage');
  const numerator = num(pct, 'numerator') ?? 0;
  const denominator = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }[str(pct, 'denominator') ?? 'HUNDRED'] ?? 100;
  return { faultAbort: { status, percent: pct ? (numerator * 100) / denominator : 100 } };
}

function parseVirtualHost(v: unknown): VirtualHost {
  return {
    name: str(v, 'name') ?? '',
    domains: arr(v, 'domains').filter((d): d is string => typeof d === 'string'),
    routes: arr(v, 'routes').map(parseRoute),
  };
}

export function parseRouteConfiguration(r: Obj): RouteConfiguration {
  return { name: str(r, 'name') ?? '', virtualHosts: arr(r, 'virtualHosts').map(parseVirtualHost), ...(bool(r, 'ignorePortInHostMatching') ? { ignorePortInHostMatching: true } : {}) };
}

function socketOrInternal(address: unknown): string {
  const sock = obj(address, 'socketAddress');
  if (sock) return `${str(sock, 'address') ?? ''}:${num(sock, 'portValue') ?? 0}`;
  const pipe = obj(address, 'pipe');
  if (pipe) return str(pipe, 'path') ?? '';
  const internal = obj(address, 'envoyInternalAddress');
  if (internal) {
    return `envoy://${str(internal, 'serverListenerName') ?? ''}/${str(internal, 'endpointId') ?? ''}`;
  }
  return 'unknown';
}

function parseLoadAssignment(cla: unknown): ClusterLoadAssignment {
  return {
    clusterName: str(cla, 'clusterName') ?? '',
    endpoints: arr(cla, 'endpoints').map((llb) => {
      const loc = obj(llb, 'locality') ?? {};
      // util.LocalityToString: region[/zone[/sub_zone]].
      const [region, zone, subZone] = ['region', 'zone', 'subZone'].map((k) => str(loc, k) ?? '');
      const locality = !zone ? region! : !subZone ? `${region}/${zone}` : `${region}/${zone}/${subZone}`;
      return {
        locality,
        lbEndpoints: arr(llb, 'lbEndpoints').map((ep) => {
          const e = obj(ep, 'endpoint');
          return {
            addresses: [
              socketOrInternal(get(e, 'address')),
              ...arr(e, 'additionalAddresses').map((a) => socketOrInternal(get(a, 'address'))),
            ],
            healthStatus: str(ep, 'healthStatus') ?? 'UNKNOWN',
          };
        }),
      };
    }),
  };
}

export function parseCluster(c: Obj): Cluster {
  const cla = obj(c, 'loadAssignment');
  const endpoints = cla
    ? parseLoadAssignment(cla).endpoints.flatMap((l) => l.lbEndpoints.flatMap((e) => e.addresses))
    : arr(c, 'hosts').map((h) => socketOrInternal(h));
  const cfg = istioConfig(get(c, 'metadata'));
  return {
    name: str(c, 'name') ?? '',
    type: str(c, 'type') ?? 'STATIC',
    ...(cfg ? { istioConfig: cfg } : {}),
    endpoints,
  };
}

function decodeBytes(v: unknown): string | undefined {
  const b64 = str(v, 'inlineBytes');
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return str(v, 'inlineString');
}

function parseSecret(s: unknown, state: 'ACTIVE' | 'WARMING'): SecretEntry[] {
  const name = str(s, 'name') ?? '';
  const finalState = state === 'ACTIVE' && str(s, 'versionInfo') === 'uninitialized' ? 'UNINITIALIZED' : state;
  const secret = obj(s, 'secret');
  const chain = decodeBytes(obj(obj(secret, 'tlsCertificate'), 'certificateChain'));
  const ca = decodeBytes(obj(obj(secret, 'validationContext'), 'trustedCa'));
  const pem = chain || ca;
  if (pem) return [{ name, state: finalState, pem }];
  const custom = obj(obj(obj(secret, 'validationContext'), 'customValidatorConfig'), 'typedConfig');
  if (custom && (str(custom, '@type') ?? '').endsWith('SPIFFECertValidatorConfig')) {
    return arr(custom, 'trustDomains').map((td) => ({
      name,
      state: finalState,
      trustDomain: str(td, 'name') ?? '',
      pem: decodeBytes(obj(td, 'trustBundle')),
    }));
  }
  return [{ name, state: finalState }];
}

function parseBootstrap(b: Obj): BootstrapInfo {
  const node = obj(obj(b, 'bootstrap'), 'node');
  const md = obj(node, 'metadata');
  let sha = str(md, 'ISTIO_PROXY_SHA');
  if (sha !== undefined && sha.includes(':')) sha = sha.split(':')[1];
  const build = obj(node, 'userAgentBuildVersion');
  const v = obj(build, 'version');
  const bmd = obj(build, 'metadata') ?? {};
  let envoyVersion = `${num(v, 'majorNumber') ?? 0}.${num(v, 'minorNumber') ?? 0}.${num(v, 'patch') ?? 0}`;
  if (typeof bmd['build.label'] === 'string') envoyVersion += `-${bmd['build.label']}`;
  for (const k of ['revision.status', 'build.type', 'ssl.version']) {
    if (typeof bmd[k] === 'string') envoyVersion += `/${bmd[k]}`;
  }
  const istioVersion = str(md, 'ISTIO_VERSION');
  return {
    ...(istioVersion ? { istioVersion } : {}),
    ...(sha ? { istioProxySha: sha } : {}),
    envoyVersion,
  };
}

function section(t: string): string {
  // type.googleapis.com/envoy.admin.v3.ListenersConfigDump, envoy.admin.v2alpha.ListenersConfigDump
  return t.slice(t.lastIndexOf('.') + 1);
}

function parseSections(configs: unknown[]): EnvoyConfig {
  const out: EnvoyConfig = {};
  for (const c of configs) {
    const kind = section(str(c, '@type') ?? '');
    if (!isObj(c)) continue;
    switch (kind) {
      case 'BootstrapConfigDump':
        out.bootstrap = parseBootstrap(c);
        break;
      case 'ListenersConfigDump': {
        const dynamic = [...arr(c, 'dynamicListeners'), ...arr(c, 'dynamicActiveListeners')]
          .map((d) => obj(obj(d, 'activeState'), 'listener') ?? obj(d, 'listener'))
          .filter(isObj);
        const statics = arr(c, 'staticListeners').map((s) => obj(s, 'listener')).filter(isObj);
        out.listeners = [...dynamic, ...statics].map(parseListener);
        break;
      }
      case 'ClustersConfigDump': {
        const list = [...arr(c, 'dynamicActiveClusters'), ...arr(c, 'staticClusters')]
          .map((d) => obj(d, 'cluster'))
          .filter(isObj);
        out.clusters = list.map(parseCluster);
        break;
      }
      case 'RoutesConfigDump': {
        const list = [...arr(c, 'dynamicRouteConfigs'), ...arr(c, 'staticRouteConfigs')]
          .map((d) => obj(d, 'routeConfig'))
          .filter(isObj);
        out.routes = list.map(parseRouteConfiguration);
        break;
      }
      case 'EndpointsConfigDump': {
        const list = [...arr(c, 'dynamicEndpointConfigs'), ...arr(c, 'staticEndpointConfigs')]
          .map((d) => obj(d, 'endpointConfig'))
          .filter(isObj);
        out.endpoints = list.map(parseLoadAssignment);
        break;
      }
      case 'SecretsConfigDump':
        out.secrets = [
          ...arr(c, 'dynamicWarmingSecrets').flatMap((s) => parseSecret(s, 'WARMING')),
          ...arr(c, 'dynamicActiveSecrets').flatMap((s) => parseSecret(s, 'ACTIVE')),
        ];
        break;
      default:
        break;
    }
  }
  return out;
}

/** What a bare resource in an `istioctl proxy-config X -o json` array is. */
function resourceKind(r: Obj): 'listener' | 'cluster' | 'route' | undefined {
  const t = str(r, '@type') ?? '';
  if (t.endsWith('.Listener')) return 'listener';
  if (t.endsWith('.Cluster')) return 'cluster';
  if (t.endsWith('.RouteConfiguration')) return 'route';
  if ('virtualHosts' in r || 'virtual_hosts' in r) return 'route';
  if (
    ['filterChains', 'defaultFilterChain', 'useOriginalDst', 'listenerFilters', 'internalListener'].some(
      (k) => get(r, k) !== undefined,
    )
  ) {
    return 'listener';
  }
  if (
    ['type', 'clusterType', 'connectTimeout', 'edsClusterConfig', 'lbPolicy', 'loadAssignment'].some(
      (k) => get(r, k) !== undefined,
    )
  ) {
    return 'cluster';
  }
  return undefined;
}

/**
 * Parses a config dump document (already decoded from JSON or YAML): `{configs: [...]}` as Envoy's
 * admin endpoint and `istioctl proxy-config all -o json` write it, or the array of listeners,
 * clusters or route configurations that `istioctl proxy-config listeners|clusters|routes -o json` prints.
 * Throws ConfigDumpError for anything else.
 */
export function parseConfigDump(doc: unknown): EnvoyConfig {
  if (isObj(doc) && Array.isArray(doc.configs)) {
    const out = parseSections(doc.configs);
    if (Object.keys(out).length === 0) {
      const types = doc.configs.map((c) => str(c, '@type') ?? '(no @type)').join(', ');
      throw new ConfigDumpError(
        `configs[] holds no section pathlab reads (found: ${types || 'nothing'}; expected envoy.admin.v3 ` +
          'ListenersConfigDump, ClustersConfigDump, RoutesConfigDump, EndpointsConfigDump, SecretsConfigDump or BootstrapConfigDump)',
      );
    }
    return out;
  }
  if (isObj(doc) && isObj(doc.configs)) {
    // Envoy before 1.9 wrote configs as a map keyed by section name.
    return parseSections(Object.values(doc.configs));
  }
  if (Array.isArray(doc)) {
    if (doc.length === 0) throw new ConfigDumpError('an empty array: expected listeners, clusters or routes');
    const out: EnvoyConfig = {};
    for (const [i, r] of doc.entries()) {
      const kind = isObj(r) ? resourceKind(r) : undefined;
      if (!isObj(r) || kind === undefined) {
        throw new ConfigDumpError(
          `[${i}]: not an Envoy listener, cluster or route configuration (as printed by istioctl proxy-config ... -o json)`,
        );
      }
      if (kind === 'listener') (out.listeners ??= []).push(parseListener(r));
      else if (kind === 'cluster') (out.clusters ??= []).push(parseCluster(r));
      else (out.routes ??= []).push(parseRouteConfiguration(r));
    }
    return out;
  }
  // The keys are named only as far as a config dump's could be (short identifiers): a file that
  // is not a dump (read as root) does not have its content shown.
  const keys = isObj(doc) ? Object.keys(doc) : [];
  const shown = keys.filter((k) => /^[A-Za-z_]{1,32}$/.test(k)).slice(0, 6);
  const found = isObj(doc) ? `an object with ${keys.length} key(s)${shown.length ? ` (${shown.join(', ')}${shown.length < keys.length ? ', …' : ''})` : ''} and no "configs"` : typeof doc;
  throw new ConfigDumpError(
    `not an Envoy config dump: found ${found}; expected {"configs": [...]} from the admin /config_dump ` +
      '(istioctl proxy-config all -o json, or kubectl exec POD -c istio-proxy -- pilot-agent request GET config_dump)',
  );
}
