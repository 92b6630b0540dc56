// istiod's own configuration for sidecars, from go/istiod-gen (Istio's fake discovery server:
// istiod's Kubernetes registry over a fake clientset, its config stores and ConfigGen), built by
// src/istio/istio-build.ts. Two uses:
// - istiodConfigDumps: one run takes the cluster's objects and a list of proxies and gives each
//   proxy's config_dump (the differential tests);
// - pushState: the netns lab's istiod (`istiod-gen serve`), serving ADS to each pod's pilot-agent,
//   told the cluster's whole state over its control socket; it answers once every proxy has
//   acknowledged (or rejected) what istiod pushed.
import { createConnection } from 'node:net';
import { stringify } from 'yaml';
import { exec } from '../lab/exec.ts';
import { LAB_ACCESS_LOG_FORMAT } from '../paths/access-log.ts';

export interface IstiodGenInput {
  /** Kubernetes YAML documents (Services, Pods, EndpointSlices). */
  kubernetes: string;
  /** Istio YAML documents (ServiceEntry, Sidecar, VirtualService, DestinationRule, PeerAuthentication…). */
  istio: string;
  /** MeshConfig YAML. */
  meshConfig: string;
  proxies: Array<{ name: string; namespace: string; ip: string; labels: Record<string, string>; interceptionMode?: 'REDIRECT' | 'TPROXY' }>;
}

/**
 * istiod's own switches for what upstream Envoy lacks (Istio's proxy-only extensions): the
 * metadata exchange filters and the ALPN filter are not generated.
 */
export const ISTIOD_FEATURES: Readonly<Record<string, string>> = {
  PILOT_ENABLE_METADATA_EXCHANGE: 'false',
  PILOT_ENABLE_ALPN_FILTER: 'false',
  // The lab's mesh-wide DestinationRule (LAB_ISTIO_OBJECTS) reaches services that have one of
  // their own: Istio's destination rule inheritance, off by default.
  PILOT_ENABLE_DESTINATION_RULE_INHERITANCE: 'true',
};

/**
 * What the lab adds to every cluster it gives istiod, in Istio's root namespace, and why:
 * - access logs on the two blackhole chains (blackholeLogs);
 * - one request per upstream connection (a DestinationRule for every host, and an EnvoyFilter for
 * the two passthrough clusters no DestinationRule reaches, their options otherwise as istiod
 * writes them). Envoy would otherwise send a probe's request on a connection an earlier probe
 * opened, and the SYN (the wire hop, the kernel's rule trace) would belong to that probe.
 */
export const LAB_ISTIO_OBJECTS: ReadonlyArray<Record<string, unknown>> = [
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'pathlab-one-request-per-connection', namespace: 'istio-system' },
    spec: { host: '*', trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } } } },
  },
  {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'pathlab-one-request-per-connection', namespace: 'istio-system' },
    spec: {
      configPatches: ['PassthroughCluster', 'InboundPassthroughCluster'].map((name) => ({
        applyTo: 'CLUSTER',
        match: { context: 'ANY', cluster: { name } },
        patch: {
          operation: 'MERGE',
          value: {
            typed_extension_protocol_options: {
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                common_http_protocol_options: { idle_timeout: '300s', max_requests_per_connection: 1 },
                use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
              },
            },
          },
        },
      })),
    },
  },
  blackholeLogs(),
  istioAlpn(),
];

/**
 * What Istio's istio.alpn filter does, with an upstream extension: before the router of every
 * outbound HTTP connection manager, set_filter_state puts ALPN istio-http/1.1 on the request's
 * upstream connection (filter state envoy.network.application_protocols, shared with the
 * upstream connection), which the mTLS of a meshed endpoint then offers instead of the
 * cluster's "istio"; the server's sidecar picks its HTTP chain by it on a sniffed port.
 * istio.alpn picks istio-http/1.0, /1.1 or istio-h2 by the upstream protocol; this sets
 * istio-http/1.1 whatever it is.
 */
function istioAlpn(): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'pathlab-istio-alpn', namespace: 'istio-system' },
    spec: {
      configPatches: [
        {
          applyTo: 'HTTP_FILTER',
          match: { context: 'SIDECAR_OUTBOUND', listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.router' } } } } },
          patch: {
            operation: 'INSERT_BEFORE',
            value: {
              name: 'pathlab.istio_alpn',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config',
                on_request_headers: [{ object_key: 'envoy.network.application_protocols', format_string: { text_format_source: { inline_string: 'istio-http/1.1' } }, shared_with_upstream: 'ONCE' }],
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * The lab logs the two chains istiod leaves unlogged, where a connection to Envoy's own capture
 * port ends (virtualOutbound-blackhole, virtualInbound-blackhole): with Istio's own access log,
 * in the lab's format, added to their tcp_proxy. Nothing of how a connection is routed changes.
 */
function blackholeLogs(): Record<string, unknown> {
  const log = {
    name: 'envoy.access_loggers.file',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
      path: '/dev/stdout',
      log_format: { text_format_source: { inline_string: `${LAB_ACCESS_LOG_FORMAT}\n` } },
    },
  };
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'pathlab-log-blackhole-chains', namespace: 'istio-system' },
    spec: {
      configPatches: (['virtualOutbound', 'virtualInbound'] as const).map((listener) => ({
        applyTo: 'NETWORK_FILTER',
        match: {
          context: listener === 'virtualOutbound' ? 'SIDECAR_OUTBOUND' : 'SIDECAR_INBOUND',
          listener: { name: listener, filterChain: { name: `${listener}-blackhole`, filter: { name: 'envoy.filters.network.tcp_proxy' } } },
        },
        patch: { operation: 'MERGE', value: { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', access_log: [log] } } },
      })),
    },
  };
}

/** The lab's mesh config: the scenario's outbound policy, and Envoy's access log on stdout in the lab's format (as the kind lab's IstioOperator). */
export function labMeshConfig(outboundMode: string): string {
  return stringify({ outboundTrafficPolicy: { mode: outboundMode }, accessLogFile: '/dev/stdout', accessLogEncoding: 'TEXT', accessLogFormat: `${LAB_ACCESS_LOG_FORMAT}\n` });
}

/** The cluster's whole state, as the lab gives it to its istiod; `wait`: the proxy IDs (pod.namespace) that must be connected. */
export interface IstiodState {
  kubernetes: string;
  istio: string;
  meshConfig: string;
  wait?: string[];
  timeoutMs?: number;
}

export interface IstiodProxyStatus {
  /** pod.namespace */
  id: string;
  /** The push (istiod's push context version) the proxy was last pushed. */
  pushVersion: string;
  /** Per xDS type (lds, cds, rds, eds, sds…): the nonce istiod sent last, the one Envoy acked, Envoy's rejection. */
  types: Record<string, { sent: string; acked: string; lastError?: string }>;
}

export interface IstiodReply {
  ok: boolean;
  error?: string;
  pushVersion: string;
  proxies: IstiodProxyStatus[] | null;
  ms: number;
}

/** Gives the lab's istiod the cluster's state and waits for its answer (istiod pushed it, every proxy answered). */
export function pushState(controlSocket: string, state: IstiodState): Promise<IstiodReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(controlSocket);
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`istiod did not answer on ${controlSocket} in ${(state.timeoutMs ?? 30_000) + 10_000} ms`));
    }, (state.timeoutMs ?? 30_000) + 10_000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(state)}\n`));
    socket.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as IstiodReply);
      } catch (e) {
        reject(new Error(`istiod answered what is not JSON: ${buf.slice(0, 200)} (${(e as Error).message})`));
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`istiod's control socket ${controlSocket}: ${e.message}`));
    });
    // istiod closed the connection without a line: it died (its log says why).
    socket.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error(`istiod closed its control socket ${controlSocket} without an answer (it exited: see the lab's logs/node.istiod.log)`));
    });
  });
}

/** Every rejection in istiod's answer: "app.default rejected lds: <Envoy's words>". */
export function rejections(reply: IstiodReply): string[] {
  return (reply.proxies ?? []).flatMap((p) => Object.entries(p.types).flatMap(([type, t]) => (t.lastError ? [`${p.id} rejected ${type}: ${t.lastError}`] : [])));
}

/** Each proxy's config_dump as istiod generates it, by `name.namespace`. */
export async function istiodConfigDumps(istiodGen: string, input: IstiodGenInput): Promise<Map<string, unknown>> {
  const r = await exec([istiodGen], { input: JSON.stringify(input), timeoutMs: 120_000, env: { ...process.env, ...ISTIOD_FEATURES } });
  if (r.exitCode !== 0) throw new Error(`istiod-gen failed (exit ${r.exitCode}): ${(r.spawnError ?? r.stderr).trim().split('\n').slice(-5).join(' | ')}`);
  const out = JSON.parse(r.stdout) as { proxies: Array<{ name: string; namespace: string; configDump: unknown }> };
  return new Map(out.proxies.map((p) => [`${p.name}.${p.namespace}`, p.configDump]));
}
