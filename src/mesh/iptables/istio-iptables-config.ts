// The configuration istio-iptables renders from, under Istio's own field names, and the three
// ways a user gives it: Istio's field names (JSON), istio-iptables' flags, or pod annotations
// turned into flags the way Istio's sidecar injector does.
import { INBOUND_CAPTURE_PORT, INBOUND_TUNNEL_PORT, OUTBOUND_CAPTURE_PORT, PROMETHEUS_PORT, PROXY_UID, READINESS_PORT, STATUS_PORT, TPROXY_MARK, TPROXY_ROUTE_TABLE } from './constants.ts';

export interface IstioIptablesConfig {
  ProxyPort: string;
  InboundCapturePort: string;
  InboundTunnelPort: string;
  ProxyUID: string;
  ProxyGID: string;
  InboundInterceptionMode: string;
  InboundPortsInclude: string;
  InboundPortsExclude: string;
  ExcludeInterfaces: string;
  OutboundIPRangesInclude: string;
  OutboundIPRangesExclude: string;
  OutboundPortsInclude: string;
  OutboundPortsExclude: string;
  RerouteVirtualInterfaces: string;
  InboundTProxyMark: string;
  InboundTProxyRouteTable: string;
  RedirectDNS: boolean;
  CaptureAllDNS: boolean;
  DropInvalid: boolean;
  OwnerGroupsInclude: string;
  OwnerGroupsExclude: string;
  HostIPv4LoopbackCidr: string;
  EnableIPv6: boolean;
  DNSServersV4: string[];
  DNSServersV6: string[];
  /** Older releases' `TraceLogging`: NFLOG rules before the capture jumps. */
  TraceLogging: boolean;
}

/** A problem in the configuration a user gave; the CLI turns it into exit code 2. */
export class IstioConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IstioConfigError';
  }
}

/** Defaults of istio-iptables (ProxyGID follows ProxyUID when not given). */
export function defaultIstioIptablesConfig(): IstioIptablesConfig {
  return {
    ProxyPort: String(OUTBOUND_CAPTURE_PORT),
    InboundCapturePort: String(INBOUND_CAPTURE_PORT),
    InboundTunnelPort: String(INBOUND_TUNNEL_PORT),
    ProxyUID: String(PROXY_UID),
    ProxyGID: String(PROXY_UID),
    InboundInterceptionMode: '',
    InboundPortsInclude: '',
    InboundPortsExclude: '',
    ExcludeInterfaces: '',
    OutboundIPRangesInclude: '',
    OutboundIPRangesExclude: '',
    OutboundPortsInclude: '',
    OutboundPortsExclude: '',
    RerouteVirtualInterfaces: '',
    InboundTProxyMark: String(TPROXY_MARK),
    InboundTProxyRouteTable: String(TPROXY_ROUTE_TABLE),
    RedirectDNS: false,
    CaptureAllDNS: false,
    DropInvalid: false,
    OwnerGroupsInclude: '*',
    OwnerGroupsExclude: '',
    HostIPv4LoopbackCidr: '127.0.0.1/32',
    EnableIPv6: false,
    DNSServersV4: [],
    DNSServersV6: [],
    TraceLogging: false,
  };
}

type Key = keyof IstioIptablesConfig;
const BOOL_KEYS = new Set<Key>(['RedirectDNS', 'CaptureAllDNS', 'DropInvalid', 'EnableIPv6', 'TraceLogging']);
const LIST_KEYS = new Set<Key>(['DNSServersV4', 'DNSServersV6']);
/** Older releases' names for the same fields. */
const FIELD_ALIASES: Record<string, Key> = { EnableInboundIPv6: 'EnableIPv6', KubeVirtInterfaces: 'RerouteVirtualInterfaces' };
/** Fields that steer how istio-iptables applies rules, not which rules: accepted and ignored. */
const NON_RULE_FIELDS = new Set([
  'DryRun', 'DualStack', 'NetworkNamespace', 'HostFilesystemPodNetwork', 'Reconcile', 'CleanupOnly', 'ForceApply',
  'ForceIptablesBinary', 'IptablesProbePort', 'ProbeTimeout', 'SkipRuleApply', 'RunValidation', 'RestoreFormat', 'NativeNftables',
]);

/** Istio's field names (as in goldens.json `effective_config`) → config; unknown fields are an error. */
export function configFromFields(fields: Record<string, unknown>): IstioIptablesConfig {
  const cfg = defaultIstioIptablesConfig();
  let gidGiven = false;
  for (const [rawKey, value] of Object.entries(fields)) {
    if (NON_RULE_FIELDS.has(rawKey)) {
      if (rawKey === 'NativeNftables' && value === true) throw new IstioConfigError('NativeNftables: the nftables backend is not rendered (iptables only)');
      continue;
    }
    const key = (FIELD_ALIASES[rawKey] ?? rawKey) as Key;
    if (!(key in cfg)) throw new IstioConfigError(`unknown istio-iptables field "${rawKey}"`);
    if (BOOL_KEYS.has(key)) {
      if (typeof value !== 'boolean') throw new IstioConfigError(`${rawKey}: expected true or false, got ${JSON.stringify(value)}`);
      (cfg as unknown as Record<string, unknown>)[key] = value;
    } else if (LIST_KEYS.has(key)) {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new IstioConfigError(`${rawKey}: expected a list of addresses`);
      (cfg as unknown as Record<string, unknown>)[key] = [...(value as string[])];
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') throw new IstioConfigError(`${rawKey}: expected a string, got ${JSON.stringify(value)}`);
      (cfg as unknown as Record<string, unknown>)[key] = String(value);
      if (key === 'ProxyGID') gidGiven = true;
    }
  }
  if (!gidGiven) cfg.ProxyGID = cfg.ProxyUID;
  return cfg;
}

interface FlagSpec {
  key: Key | null; // null: accepted, does not change rules
  short?: string;
  boolean?: boolean;
}
const FLAGS: Record<string, FlagSpec> = {
  '--envoy-port': { key: 'ProxyPort', short: '-p' },
  '--inbound-capture-port': { key: 'InboundCapturePort', short: '-z' },
  '--inbound-tunnel-port': { key: 'InboundTunnelPort', short: '-e' },
  '--proxy-uid': { key: 'ProxyUID', short: '-u' },
  '--proxy-gid': { key: 'ProxyGID', short: '-g' },
  '--istio-inbound-interception-mode': { key: 'InboundInterceptionMode', short: '-m' },
  '--istio-inbound-ports': { key: 'InboundPortsInclude', short: '-b' },
  '--istio-local-exclude-ports': { key: 'InboundPortsExclude', short: '-d' },
  '--istio-exclude-interfaces': { key: 'ExcludeInterfaces', short: '-c' },
  '--istio-service-cidr': { key: 'OutboundIPRangesInclude', short: '-i' },
  '--istio-service-exclude-cidr': { key: 'OutboundIPRangesExclude', short: '-x' },
  '--istio-outbound-ports': { key: 'OutboundPortsInclude', short: '-q' },
  '--istio-local-outbound-ports-exclude': { key: 'OutboundPortsExclude', short: '-o' },
  '--kube-virt-interfaces': { key: 'RerouteVirtualInterfaces', short: '-k' },
  '--istio-inbound-tproxy-mark': { key: 'InboundTProxyMark', short: '-t' },
  '--istio-inbound-tproxy-route-table': { key: 'InboundTProxyRouteTable', short: '-r' },
  '--redirect-dns': { key: 'RedirectDNS', boolean: true },
  '--capture-all-dns': { key: 'CaptureAllDNS', boolean: true },
  '--drop-invalid': { key: 'DropInvalid', boolean: true },
  '--dry-run': { key: null, short: '-n', boolean: true },
  '--dual-stack': { key: null, boolean: true },
  '--reconcile': { key: null, boolean: true },
  '--cleanup-only': { key: null, boolean: true },
  '--force-apply': { key: null, boolean: true },
  '--skip-rule-apply': { key: null, boolean: true },
  '--run-validation': { key: null, boolean: true },
  '--cni-mode': { key: null, boolean: true },
  '--network-namespace': { key: null },
  '--iptables-probe-port': { key: null },
  '--probe-timeout': { key: null },
  '--force-iptables-binary': { key: null },
  '--log_output_level': { key: null },
  '--log_as_json': { key: null, boolean: true },
};
const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(FLAGS).filter(([, s]) => s.short).map(([long, s]) => [s.short as string, long]),
);

/**
 * istio-iptables flags (argv without the program name) → config. Long (`--x=v`, `--x v`) and short
 * (`-p 15001`, `-p15001`) forms; booleans take an optional `=true|false`. `--native-nftables` is refused.
 */
export function configFromFlags(argv: readonly string[], base: IstioIptablesConfig = defaultIstioIptablesConfig()): IstioIptablesConfig {
  const cfg: IstioIptablesConfig = { ...base, DNSServersV4: [...base.DNSServersV4], DNSServersV6: [...base.DNSServersV6] };
  let gidGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(0, eq) : arg;
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.startsWith('-') && arg.length >= 2) {
      const long = SHORT[arg.slice(0, 2)];
      if (!long) throw new IstioConfigError(`unknown istio-iptables flag "${arg}"`);
      name = long;
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined;
    } else {
      throw new IstioConfigError(`unexpected argument "${arg}" (istio-iptables takes flags only)`);
    }
    if (name === '--native-nftables') throw new IstioConfigError('--native-nftables: the nftables backend is not rendered (iptables only)');
    const spec = FLAGS[name];
    if (!spec) throw new IstioConfigError(`unknown istio-iptables flag "${name}"`);
    let value: string;
    if (spec.boolean) {
      value = inline ?? 'true';
      if (value !== 'true' && value !== 'false') throw new IstioConfigError(`${name}: expected true or false, got "${value}"`);
    } else if (inline !== undefined) {
      value = inline;
    } else {
      if (i + 1 >= argv.length) throw new IstioConfigError(`${name}: missing value`);
      value = argv[++i] as string;
    }
    value = unquote(value);
    if (!spec.key) continue;
    if (spec.boolean) (cfg as unknown as Record<string, unknown>)[spec.key] = value === 'true';
    else (cfg as unknown as Record<string, unknown>)[spec.key] = value;
    if (spec.key === 'ProxyGID') gidGiven = true;
  }
  if (!gidGiven) cfg.ProxyGID = cfg.ProxyUID;
  return cfg;
}

/** `'*'` and `""` as a shell user writes them in an istio-init command line. */
function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"')))) return v.slice(1, -1);
  return v;
}

/**
 * Pod annotations → the istio-iptables argv the sidecar injector writes into istio-init:
 * `-p 15001 -z 15006 -u 1337 -m MODE -i INCLUDE_CIDRS -x EXCLUDE_CIDRS -b INBOUND -d 15090,15021,<excludes+status>`
 * plus `-q`, `-o`, `-k`, `-c` only when their annotation is set.
 */
export function flagsFromAnnotations(annotations: Record<string, string>): string[] {
  const a = (k: string): string | undefined => annotations[k];
  const known = new Set([
    'sidecar.istio.io/interceptionMode', 'traffic.sidecar.istio.io/includeOutboundIPRanges', 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
    'traffic.sidecar.istio.io/includeInboundPorts', 'traffic.sidecar.istio.io/excludeInboundPorts', 'traffic.sidecar.istio.io/includeOutboundPorts',
    'traffic.sidecar.istio.io/excludeOutboundPorts', 'traffic.sidecar.istio.io/kubevirtInterfaces', 'traffic.sidecar.istio.io/excludeInterfaces',
    'status.sidecar.istio.io/port',
  ]);
  for (const k of Object.keys(annotations)) {
    if ((k.startsWith('traffic.sidecar.istio.io/') || k === 'sidecar.istio.io/interceptionMode') && !known.has(k)) {
      throw new IstioConfigError(`unknown capture annotation "${k}"`);
    }
  }
  const mode = a('sidecar.istio.io/interceptionMode') ?? 'REDIRECT';
  if (mode !== 'REDIRECT' && mode !== 'TPROXY') throw new IstioConfigError(`sidecar.istio.io/interceptionMode: expected REDIRECT or TPROXY, got "${mode}"`);
  const statusPort = a('status.sidecar.istio.io/port') ?? String(STATUS_PORT);
  const excludes = splitList(a('traffic.sidecar.istio.io/excludeInboundPorts') ?? '');
  if (statusPort !== '0' && !excludes.includes(statusPort)) excludes.push(statusPort);
  const argv = [
    '-p', String(OUTBOUND_CAPTURE_PORT), '-z', String(INBOUND_CAPTURE_PORT), '-u', String(PROXY_UID), '-m', mode,
    '-i', a('traffic.sidecar.istio.io/includeOutboundIPRanges') ?? '*',
    '-x', a('traffic.sidecar.istio.io/excludeOutboundIPRanges') ?? '',
    '-b', a('traffic.sidecar.istio.io/includeInboundPorts') ?? '*',
    '-d', `${PROMETHEUS_PORT},${READINESS_PORT},${excludes.join(',')}`,
  ];
  const optional: [string, string][] = [
    ['-q', 'traffic.sidecar.istio.io/includeOutboundPorts'], ['-o', 'traffic.sidecar.istio.io/excludeOutboundPorts'],
    ['-k', 'traffic.sidecar.istio.io/kubevirtInterfaces'], ['-c', 'traffic.sidecar.istio.io/excludeInterfaces'],
  ];
  for (const [flag, key] of optional) {
    const v = a(key);
    if (v !== undefined && v !== '') argv.push(flag, v);
  }
  return argv;
}

/** Comma list, empty items dropped (`"6000,7000,"` → 6000, 7000), items trimmed. */
export function splitList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}
