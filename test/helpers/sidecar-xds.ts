// A realistic pod for the lab's xDS rendering (src/lab/netns/envoy-xds.ts), shared by its unit
// test and the test that loads the rendered files into the real Envoy: the mesh the control
// plane would describe for pod `client` (an HTTP Service, a TCP Service, DNS and STATIC
// ServiceEntries, two of them on one VIP, one for a Service's own host, a mesh-wide STRICT
// PeerAuthentication), and what
// the lab knows of the other pods (their endpoints and SPIFFE identities).
import { parseMesh } from '../../src/mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../src/mesh/envoy/synthesize-sidecar.ts';
import type { SidecarFacts, SidecarPaths } from '../../src/lab/netns/envoy-xds.ts';

export type Json = Record<string, unknown>;

export const WEB = 'outbound|8080||web.default.svc.cluster.local';
export const DB = 'outbound|5432||db.data.svc.cluster.local';
export const STATIC_SE = 'outbound|8080||a.example.com';
export const SHARED_VIP = '240.0.0.9';

export const MESH = {
  apiVersion: 'pathlab/v1',
  kind: 'Mesh',
  era: 'current',
  proxy: { name: 'client', namespace: 'default', ip: '10.64.0.10', labels: { app: 'client' }, ports: [{ port: 8080, name: 'http' }, { port: 9000, name: 'tcp-raw' }] },
  resources: [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'data' }, spec: { clusterIP: '10.96.0.40', ports: [{ name: 'tcp-db', port: 5432, targetPort: 5432 }] } },
    // Two HTTP ServiceEntries on one VIP: their virtual hosts share the VIP's domains.
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'a', namespace: 'default' }, spec: { hosts: ['a.example.com'], addresses: [SHARED_VIP], ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '192.0.2.7' }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'b', namespace: 'default' }, spec: { hosts: ['b.example.com'], addresses: [SHARED_VIP], ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' } },
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'api', namespace: 'default' }, spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], location: 'MESH_EXTERNAL', resolution: 'DNS' } },
    // A ServiceEntry for the web Service's own host and port: one cluster of that name only (Envoy refuses two).
    { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'web-alias', namespace: 'default' }, spec: { hosts: ['web.default.svc.cluster.local'], ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' } },
    { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } },
  ],
};

export const FACTS: SidecarFacts = {
  pod: 'client',
  namespace: 'default',
  ip: '10.64.0.10',
  interception: 'REDIRECT',
  // web has a meshed and an unmeshed endpoint; db one meshed; a.example.com none here (its inline endpoint is used).
  endpoints: { [WEB]: ['10.64.0.30:8080', '10.64.0.31:8080'], [DB]: ['10.64.0.40:5432'] },
  identities: {
    '10.64.0.10': 'spiffe://cluster.local/ns/default/sa/client',
    '10.64.0.30': 'spiffe://cluster.local/ns/default/sa/web',
    '10.64.0.40': 'spiffe://cluster.local/ns/data/sa/db',
  },
  // Stand-ins for the rendering's unit test; the test that loads the files into Envoy makes real ones.
  pem: { cert: '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nclient\n-----END PRIVATE KEY-----\n', ca: '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n' },
};

/** The pod's sidecar files under `dir`, laid out as MeshControl lays them out. */
export function sidecarPathsIn(dir: string): SidecarPaths {
  return {
    xdsDir: `${dir}/xds`,
    accessLog: { outbound: `${dir}/access-outbound.log`, inbound: `${dir}/access-inbound.log` },
  };
}

/** The Envoy model's config_dump for the pod. */
export function synthesizedDump(): { configs: Json[] } {
  return synthesizeSidecar(parseMesh(MESH)).configDump as { configs: Json[] };
}
