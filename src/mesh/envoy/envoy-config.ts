// The part of an Envoy configuration that decides where a connection goes, in Envoy's own
// words (listener, filter chain, filter chain match, cluster, route configuration, virtual
// host). Both sources produce it: a real config_dump (parseConfigDump) and a mesh
// description synthesized into a config_dump document (synthesizeSidecar → parseConfigDump).

/** Well-known names Istio gives the listeners, chains and clusters of a sidecar. */
export const VIRTUAL_OUTBOUND = 'virtualOutbound';
export const VIRTUAL_INBOUND = 'virtualInbound';
export const PASSTHROUGH_FILTER_CHAIN = 'PassthroughFilterChain';
export const VIRTUAL_OUTBOUND_CATCHALL_TCP = 'virtualOutbound-catchall-tcp';
export const VIRTUAL_OUTBOUND_BLACKHOLE = 'virtualOutbound-blackhole';
export const VIRTUAL_INBOUND_BLACKHOLE = 'virtualInbound-blackhole';
export const VIRTUAL_INBOUND_CATCHALL_HTTP = 'virtualInbound-catchall-http';
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
/** meshConfig.proxyListenPort and proxyInboundListenPort: where istio-iptables REDIRECTs (one definition, with the rules'). */
export { OUTBOUND_CAPTURE_PORT, INBOUND_CAPTURE_PORT } from '../iptables/constants.ts';

export interface CidrRange {
  addressPrefix: string;
  prefixLen: number;
}

/** Envoy's FilterChainMatch (envoy.config.listener.v3.FilterChainMatch); absent = not set. */
export interface FilterChainMatch {
  destinationPort?: number;
  prefixRanges: CidrRange[];
  serverNames: string[];
  transportProtocol?: string;
  applicationProtocols: string[];
  directSourcePrefixRanges: CidrRange[];
  sourceType?: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  sourcePrefixRanges: CidrRange[];
  sourcePorts: number[];
}

export type NetworkFilter =
  | { kind: 'tcp_proxy'; name: string; cluster: string }
  | { kind: 'http_connection_manager'; name: string; rds?: string; routeConfig?: RouteConfiguration }
  | { kind: 'other'; name: string };

export interface FilterChain {
  /** Envoy's chain name; unnamed chains (common before Istio 1.6) have none. */
  name?: string;
  /** Where it sits: `filter_chains[i]` (0-based) or the listener's `default_filter_chain`. */
  position: number | 'default';
  match: FilterChainMatch;
  filters: NetworkFilter[];
  /** The chain terminates TLS (has a transport_socket). */
  tls: boolean;
}

/** A listener filter, with the destination ports its filter_disabled matcher turns it off for. */
export interface ListenerFilter {
  name: string;
  disabledPorts: Array<{ start: number; end: number }>;
  /** When set, the filter runs for these destination ports only (filter_disabled: not_match). */
  onlyPorts?: Array<{ start: number; end: number }>;
}

export interface Listener {
  name: string;
  /** Socket address (`0.0.0.0`, `10.96.5.5`), pipe path, or '' for an internal listener. */
  address: string;
  port: number;
  additionalAddresses: string[];
  useOriginalDst: boolean;
  bindToPort: boolean;
  internal: boolean;
  trafficDirection?: string;
  listenerFilters: ListenerFilter[];
  /** listener_filters_timeout in seconds (Envoy's default is 15s); 0 = wait for the client forever. */
  listenerFiltersTimeout: number;
  continueOnListenerFiltersTimeout: boolean;
  filterChains: FilterChain[];
  defaultFilterChain?: FilterChain;
  /** True when the filter_chain_matcher (xds matcher API) is used instead of FilterChainMatch. */
  hasFilterChainMatcher: boolean;
  /** The raw listener object, for table writers that need more. */
  raw: Record<string, unknown>;
}

export type RouteAction =
  | { kind: 'cluster'; cluster: string }
  | { kind: 'weighted_clusters'; clusters: string[] }
  | { kind: 'direct_response'; status: number; body?: string }
  | { kind: 'redirect' }
  | { kind: 'other' };

export interface RouteMatch {
  prefix?: string;
  path?: string;
  safeRegex?: string;
  pathSeparatedPrefix?: string;
}

export interface Route {
  name?: string;
  match: RouteMatch;
  action: RouteAction;
  /** filter_metadata.istio.config: the Istio resource behind the route. */
  istioConfig?: string;
  /** The route's fault filter abort (typed_per_filter_config envoy.filters.http.fault): its status and the share of requests it takes. */
  faultAbort?: { status: number; percent: number };
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}

export interface RouteConfiguration {
  name: string;
  virtualHosts: VirtualHost[];
  /** The Host's port is dropped before the virtual host is chosen. */
  ignorePortInHostMatching?: boolean;
}

export interface Cluster {
  name: string;
  /** Envoy discovery type: STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST (STATIC when unset). */
  type: string;
  istioConfig?: string;
  /** Endpoints inlined in load_assignment (STATIC / DNS clusters). */
  endpoints: string[];
}

export interface LbEndpoint {
  addresses: string[];
  healthStatus: string;
}

export interface ClusterLoadAssignment {
  clusterName: string;
  endpoints: Array<{ locality: string; lbEndpoints: LbEndpoint[] }>;
}

export interface SecretEntry {
  name: string;
  state: 'ACTIVE' | 'WARMING' | 'UNINITIALIZED';
  /** PEM text of the certificate chain or trusted CA. */
  pem?: string;
  trustDomain?: string;
}

export interface BootstrapInfo {
  istioVersion?: string;
  istioProxySha?: string;
  envoyVersion: string;
}

/** What a config_dump (or one section of it) holds, normalised. Absent section = undefined. */
export interface EnvoyConfig {
  bootstrap?: BootstrapInfo;
  listeners?: Listener[];
  clusters?: Cluster[];
  routes?: RouteConfiguration[];
  endpoints?: ClusterLoadAssignment[];
  secrets?: SecretEntry[];
}
