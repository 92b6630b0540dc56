/** Chain names istio-iptables creates (the same in every table that uses them). */
export const ISTIO_INBOUND = 'ISTIO_INBOUND';
export const ISTIO_REDIRECT = 'ISTIO_REDIRECT';
export const ISTIO_IN_REDIRECT = 'ISTIO_IN_REDIRECT';
export const ISTIO_OUTPUT = 'ISTIO_OUTPUT';
export const ISTIO_OUTPUT_DNS = 'ISTIO_OUTPUT_DNS';
export const ISTIO_DIVERT = 'ISTIO_DIVERT';
export const ISTIO_TPROXY = 'ISTIO_TPROXY';
export const ISTIO_DROP = 'ISTIO_DROP';

/** Well-known sidecar ports. */
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
export const INBOUND_TUNNEL_PORT = 15008;
export const DNS_CAPTURE_PORT = 15053;
export const STATUS_PORT = 15020;
export const READINESS_PORT = 15021;
export const PROMETHEUS_PORT = 15090;
export const DNS_PORT = 53;
export const PROXY_UID = 1337;
export const TPROXY_MARK = 1337;
export const TPROXY_ROUTE_TABLE = 133;

/** Source address Envoy's inbound clusters bind towards the app. */
export const INBOUND_PASSTHROUGH_SRC_V4 = '127.0.0.6/32';
export const INBOUND_PASSTHROUGH_SRC_V6 = '::6/128';
export const LOCALHOST_V6 = '::1/128';

/** Chains the kernel provides; they never get `-N` and they have a policy. */
export const BUILTIN_CHAINS: ReadonlySet<string> = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** Tables in the order istio-iptables writes them into a restore payload (sorted by name). */
export const TABLES = ['filter', 'mangle', 'nat', 'raw'] as const;

export type Family = 'ipv4' | 'ipv6';
