// The mesh description: what synthesizeSidecar needs to build the listener table Istio would push
// to one sidecar. `resources` holds Kubernetes and Istio objects exactly as users write them
// (v1 Service, networking.istio.io ServiceEntry and Sidecar, security.istio.io PeerAuthentication),
// so a scenario's setup resources can be handed over unchanged. Other kinds are accepted and ignored.
import { z } from 'zod';

const metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const protocolName = z.string().min(1);

export const ServicePortSchema = z.looseObject({
  name: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  appProtocol: z.string().optional(),
  targetPort: z.union([z.number().int(), z.string()]).optional(),
});

/** Kubernetes v1 Service (the fields Istio reads for outbound listeners). */
export const ServiceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata,
  spec: z.looseObject({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
    clusterIP: z.string().optional(),
    externalName: z.string().optional(),
    ports: z.array(ServicePortSchema).default([]),
  }),
});

const istioNetworking = z.enum(['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3']);
const istioSecurity = z.enum(['security.istio.io/v1', 'security.istio.io/v1beta1']);

/** networking.istio.io ServiceEntry. */
export const ServiceEntrySchema = z.looseObject({
  apiVersion: istioNetworking,
  kind: z.literal('ServiceEntry'),
  metadata,
  spec: z.looseObject({
    hosts: z.array(z.string().min(1)).min(1),
    addresses: z.array(z.string()).optional(),
    ports: z
      .array(
        z.looseObject({
          number: z.number().int().min(1).max(65535),
          name: z.string(),
          protocol: protocolName.optional(),
          targetPort: z.number().int().optional(),
        }),
      )
      .default([]),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']).optional(),
    endpoints: z.array(z.looseObject({ address: z.string() })).optional(),
    exportTo: z.array(z.string()).optional(),
  }),
});

/** networking.istio.io Sidecar (egress hosts decide which services this proxy imports). */
export const SidecarSchema = z.looseObject({
  apiVersion: istioNetworking,
  kind: z.literal('Sidecar'),
  metadata,
  spec: z.looseObject({
    workloadSelector: z.looseObject({ labels: z.record(z.string(), z.string()) }).optional(),
    egress: z
      .array(
        z.looseObject({
          hosts: z.array(z.string().regex(/^[^/]+\/[^/]+$/, 'expected "namespace/dnsName", e.g. "./*" or "istio-system/*"')),
          port: z.looseObject({ number: z.number().int(), protocol: z.string().optional(), name: z.string().optional() }).optional(),
        }),
      )
      .optional(),
    outboundTrafficPolicy: z.looseObject({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']) }).optional(),
  }),
});

/** security.istio.io PeerAuthentication. */
export const PeerAuthenticationSchema = z.looseObject({
  apiVersion: istioSecurity,
  kind: z.literal('PeerAuthentication'),
  metadata,
  spec: z.looseObject({
    selector: z.looseObject({ matchLabels: z.record(z.string(), z.string()) }).optional(),
    mtls: z.looseObject({ mode: z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) }).optional(),
    portLevelMtls: z.record(z.string(), z.looseObject({ mode: z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) })).optional(),
  }),
});

/** Any other object with apiVersion/kind: kept, ignored by synthesis. */
export const OtherResourceSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string().refine((k) => !['Service', 'ServiceEntry', 'Sidecar', 'PeerAuthentication'].includes(k), {
    message: 'does not match the schema of its kind',
  }),
  metadata: metadata.optional(),
});

export const MeshResourceSchema = z.union([
  ServiceSchema,
  ServiceEntrySchema,
  SidecarSchema,
  PeerAuthenticationSchema,
  OtherResourceSchema,
]);

export const ProxyPortSchema = z.object({
  port: z.number().int().min(1).max(65535),
  /** As a Service port would name it: HTTP, HTTP2, GRPC, TCP, TLS, ... (absent = auto-detect). */
  protocol: z.string().optional(),
  name: z.string().optional(),
});

export const MeshSchema = z.object({
  apiVersion: z.literal('pathlab/v1'),
  kind: z.literal('Mesh'),
  metadata: z.object({ name: z.string().min(1) }).optional(),
  /** `current`: Istio 1.6 and later. `legacy`: Istio 1.3–1.5 (HTTP ports on 0.0.0.0 with a match-all HTTP chain). */
  era: z.enum(['current', 'legacy']).default('current'),
  meshConfig: z
    .object({
      outboundTrafficPolicy: z.object({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']) }).default({ mode: 'ALLOW_ANY' }),
      rootNamespace: z.string().default('istio-system'),
    })
    .default({ outboundTrafficPolicy: { mode: 'ALLOW_ANY' }, rootNamespace: 'istio-system' }),
  /** The pod whose sidecar is modelled. */
  proxy: z.object({
    name: z.string().default('app'),
    namespace: z.string().default('default'),
    ip: z.string().min(1),
    labels: z.record(z.string(), z.string()).default({}),
    /** The ports the pod's Services send it (the inbound listeners' chains). */
    ports: z.array(ProxyPortSchema).default([]),
    /** Overrides what the PeerAuthentication resources say. */
    peerAuthentication: z.enum(['DISABLE', 'PERMISSIVE', 'STRICT']).optional(),
  }),
  resources: z.array(MeshResourceSchema).default([]),
});

export type Mesh = z.infer<typeof MeshSchema>;
export type MeshInput = z.input<typeof MeshSchema>;
export type MeshResource = z.infer<typeof MeshResourceSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type ServiceEntry = z.infer<typeof ServiceEntrySchema>;
export type Sidecar = z.infer<typeof SidecarSchema>;
export type PeerAuthentication = z.infer<typeof PeerAuthenticationSchema>;

export const MESH_SCHEMA_PATH = 'schema/mesh.schema.json';

/** The published JSON Schema of a mesh file, as committed at schema/mesh.schema.json. */
export function meshJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(MeshSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}

/** The schema file's text: two-space indent, final newline. */
export function meshJsonSchemaText(): string {
  return `${JSON.stringify(meshJsonSchema(), null, 2)}\n`;
}

/** Validates a decoded mesh document; throws MeshError listing every problem as `path: message`. */
export function parseMesh(doc: unknown): Mesh {
  const r = MeshSchema.safeParse(doc);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  throw new MeshError(lines);
}

export class MeshError extends Error {
  constructor(readonly problems: string[]) {
    super(`not a valid pathlab/v1 Mesh:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'MeshError';
  }
}

function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}
