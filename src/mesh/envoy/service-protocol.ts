// Protocol of a service port, as Istio decides it (pkg/config/kube/conversion.go ConvertProtocol,
// pkg/config/protocol/instance.go Parse) and the listener protocol it leads to
// (pilot/pkg/networking/networking.go ModelProtocolToListenerProtocol).

export type IstioProtocol =
  | 'HTTP'
  | 'HTTP2'
  | 'HTTP_PROXY'
  | 'GRPC'
  | 'GRPC-Web'
  | 'HTTPS'
  | 'TCP'
  | 'TLS'
  | 'Mongo'
  | 'MySQL'
  | 'Redis'
  | 'UDP'
  | 'Unsupported';

export type ListenerProtocol = 'HTTP' | 'TCP' | 'AUTO' | 'NONE';

const BY_NAME: Record<string, IstioProtocol> = {
  http: 'HTTP',
  http2: 'HTTP2',
  http_proxy: 'HTTP_PROXY',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  https: 'HTTPS',
  tcp: 'TCP',
  tls: 'TLS',
  mongo: 'Mongo',
  mysql: 'MySQL',
  redis: 'Redis',
  udp: 'UDP',
};

/** protocol.Parse: case-insensitive; unknown values are Unsupported (= auto-detect). */
export function parseProtocol(text: string | undefined): IstioProtocol {
  if (!text) return 'Unsupported';
  return BY_NAME[text.toLowerCase()] ?? 'Unsupported';
}

/** Ports Istio treats as TCP when the name says nothing (ConvertProtocol's well-known ports). */
const WELL_KNOWN_TCP = new Set([25, 53, 3306, 27017]);

/** A Kubernetes Service port → protocol: UDP, else appProtocol, else the name's prefix before `-`. */
export function kubeServicePortProtocol(p: {
  port: number;
  name?: string;
  protocol?: string;
  appProtocol?: string;
}): IstioProtocol {
  if (p.protocol === 'UDP') return 'UDP';
  if (p.appProtocol) {
    const fromApp = parseProtocol(p.appProtocol);
    if (fromApp !== 'Unsupported') return fromApp;
  }
  const name = (p.name ?? '').toLowerCase();
  const fromName: IstioProtocol = name.startsWith('grpc-web') ? 'GRPC-Web' : parseProtocol(name.split('-', 1)[0]);
  if (fromName === 'Unsupported' && WELL_KNOWN_TCP.has(p.port)) return 'TCP';
  return fromName;
}

export function listenerProtocol(p: IstioProtocol): ListenerProtocol {
  switch (p) {
    case 'HTTP':
    case 'HTTP2':
    case 'HTTP_PROXY':
    case 'GRPC':
    case 'GRPC-Web':
      return 'HTTP';
    case 'TCP':
    case 'HTTPS':
    case 'TLS':
    case 'Mongo':
    case 'MySQL':
    case 'Redis':
      return 'TCP';
    case 'UDP':
      return 'NONE';
    case 'Unsupported':
      return 'AUTO';
  }
}
