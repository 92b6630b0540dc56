// Scenario format v1: the single definition of what a scenario file may say.
// The TypeScript types are inferred from it, the published JSON Schema
// (schema/scenario.schema.json, for editors and other tools) is generated from it by
// scripts/gen-schema.ts, and the loader validates with it. Checks that span several fields
// (a probe from a pod the lab lacks, an address outside the lab's networks) live in
// cross-checks.ts, because JSON Schema cannot say them.
import { z } from 'zod';
import { rangeProblem } from './istio-range.ts';
import { OUTCOMES } from '../probes/outcome.ts';
import { TOOL_NAMES, type ToolName } from '../probes/index.ts';
import { ISTIO_ERAS } from '../mesh/iptables/istio-versions.ts';

export const SCENARIO_API_VERSION = 'pathlab/v1';

const KEBAB = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const CIDR4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;
const DURATION = /^\d+(\.\d+)?(ms|s)$/;
/** Kubernetes DNS-1123 label: names of pods, namespaces, containers. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A host name a probe may target: a Service name, `svc.ns`, an FQDN, or an external host's name. */
const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const name = z
  .string()
  .regex(KEBAB, { error: 'must be kebab-case: lower-case letters, digits and "-"' })
  .max(63);
/** A lab pod by name, where an address is asked for: its address on each backend. */
export const POD_REF = /^pod\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const ipv4 = z.string().regex(IPV4, { error: 'must be an IPv4 address such as 10.0.0.6' });
export const cidr = z
  .string()
  .regex(CIDR4, { error: 'must be an IPv4 CIDR such as 10.64.0.0/16' });
export const port = z
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be a port from 1 to 65535' })
  .max(65535, { error: 'must be a port from 1 to 65535' });
export const uid = z.int().min(0).max(4294967294);
/** A probe's timeout: from 100 ms to 5 minutes. */
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 300_000;
export function durationMs(text: string): number {
  return text.endsWith('ms') ? Number(text.slice(0, -2)) : Number(text.slice(0, -1)) * 1000;
}
export const duration = z
  .string()
  .regex(DURATION, { error: 'must be a duration such as 3s or 500ms' })
  .refine((d) => !DURATION.test(d) || (durationMs(d) >= MIN_TIMEOUT_MS && durationMs(d) <= MAX_TIMEOUT_MS), { error: `must be from ${MIN_TIMEOUT_MS}ms to ${MAX_TIMEOUT_MS / 60_000} minutes` });
const dnsLabel = z
  .string()
  .regex(DNS_LABEL, { error: 'must be a DNS label: lower-case letters, digits and "-"' })
  .max(63);

/** Istio behaviour eras the lab can reproduce (iptables rules and listener shapes): the rows of the behaviour table. */
export const ISTIO_VERSIONS = ISTIO_ERAS;
/**
 * What one lab and one scenario may hold. A lab runs a process per port and per sidecar on the
 * machine that starts it: a file cannot ask for tens of thousands of them.
 */
export const LIMITS = { pods: 32, services: 64, externalHosts: 16, portsPerHost: 16, setupSteps: 50, probes: 100, capturesPerProbe: 8 } as const;

export const BACKENDS = ['netns', 'kind', 'cluster'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const OUTBOUND_MODES = ['ALLOW_ANY', 'REGISTRY_ONLY'] as const;
export const INTERCEPTION_MODES = ['REDIRECT', 'TPROXY', 'NONE'] as const;
export const SEED_IDS = ['000', '001', '002', '003', '004'] as const;
export const WORKLOADS = [
  'echo',
  'hello-app',
  'productpage',
  'details',
  'reviews-v1',
  'reviews-v2',
  'reviews-v3',
  'ratings',
  'tcp-echo',
  'toolbox',
] as const;
export const EXTERNAL_SERVERS = ['redis', 'echo', 'http', 'https', 'mtls'] as const;
/** The probe tools (src/probes): a tool's file and its line in TOOLS are all it takes to add one. */
export const PROBE_TOOLS = TOOL_NAMES as [ToolName, ...ToolName[]];
export const CAPTURE_IFACES = ['eth0', 'lo', 'any'] as const;

const meshConfig = z
  .strictObject({
    outboundTrafficPolicy: z
      .strictObject({
        mode: z.enum(OUTBOUND_MODES).meta({
          description: 'ALLOW_ANY passes unknown destinations through; REGISTRY_ONLY blackholes them',
        }),
      })
      .optional(),
  })
  .meta({ description: 'The parts of Istio meshConfig that change a sidecar path' });

const containerPort = z.strictObject({
  port,
  name: z.string().max(63).optional().meta({ description: 'port name; its prefix picks the protocol' }),
  protocol: z.enum(['TCP', 'UDP']).optional(),
});

const pod = z
  .strictObject({
    name,
    namespace: dnsLabel.optional(),
    ip: ipv4.optional().meta({ description: 'fixed pod IP (inside lab.network.podCidr); assigned when absent' }),
    meshed: z.boolean().optional().meta({ description: 'has istio-init rules and a sidecar' }),
    workload: z.enum(WORKLOADS).meta({ description: 'the application the pod runs' }),
    ports: z.array(containerPort).max(LIMITS.portsPerHost).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: 'pod annotations, e.g. traffic.sidecar.istio.io/excludeOutboundPorts' }),
  })
  .meta({ description: 'A pod of the lab: one network namespace (netns) or one Kubernetes pod (kind)' });

const externalHost = z
  .strictObject({
    name,
    address: ipv4.meta({ description: 'the address clients dial, e.g. 10.0.0.6' }),
    server: z.enum(EXTERNAL_SERVERS).meta({
      description: 'what answers on the ports: redis; echo (TCP); http; https (a self-signed certificate); mtls (a meshed workload as its peers\' sidecars see it: TLS with a lab-CA certificate of `identity`, a lab-CA client certificate required, then HTTP or TCP as the first bytes say; netns only)',
    }),
    ports: z.array(port).min(1).max(LIMITS.portsPerHost),
    password: z.string().optional().meta({ description: 'redis requirepass, so unauthenticated commands answer NOAUTH' }),
    identity: z
      .string()
      .regex(/^spiffe:\/\/[a-z0-9.-]+\/ns\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/sa\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: 'must be a SPIFFE identity such as spiffe://cluster.local/ns/default/sa/details' })
      .optional()
      .meta({ description: 'mtls: the SPIFFE identity its certificate carries, e.g. spiffe://cluster.local/ns/default/sa/details' }),
  })
  .meta({ description: 'A host outside the mesh, on the lab network' });

const serviceRef = z.strictObject({
  name,
  namespace: dnsLabel.optional(),
  clusterIP: z.union([ipv4, z.literal('None')]).optional(),
  externalName: z
    .string()
    .regex(HOSTNAME, { error: 'must be a host name such as ratings.default.svc.cluster.local' })
    .optional()
    .meta({ description: 'type ExternalName: the name is an alias (DNS CNAME) of this host; no VIP, no endpoints' }),
  selector: z.record(z.string(), z.string()).optional(),
  ports: z
    .array(
      z.strictObject({
        port,
        name: z.string().max(63).optional(),
        targetPort: port.optional(),
        appProtocol: z.string().optional(),
      }),
    )
    .min(1),
});

const network = z.strictObject({
  podCidr: cidr.optional(),
  serviceCidr: cidr.optional(),
  externalCidr: cidr.optional(),
});

const lab = z
  .strictObject({
    istio: z.strictObject({
      version: z.enum(ISTIO_VERSIONS).meta({
        description: 'which Istio behaviour to reproduce: istio-init rules and listener shapes of that era',
      }),
      holdsFor: z
        .string()
        .refine((r) => rangeProblem(r) === undefined, { error: 'must be a version range such as ">=1.6" or "1.22 - 1.30"' })
        .optional()
        .meta({ description: 'the Istio releases the scenario holds for, a semver range (">=1.6"): a run on a release outside it (--istio-version) skips the scenario with the reason' }),
      interceptionMode: z.enum(INTERCEPTION_MODES).optional(),
      controlPlane: z
        .literal('istiod')
        .optional()
        .meta({ description: 'istiod: the scenario needs istiod\'s own configuration (it applies kinds the Envoy model lacks, e.g. VirtualService, DestinationRule); skipped where istiod is not built' }),
    }),
    meshConfig: meshConfig.optional(),
    proxy: z
      .strictObject({ uid: uid.optional(), gid: uid.optional() })
      .optional()
      .meta({ description: 'the uid/gid the sidecar runs as (1337; 201507 on OpenShift-style clusters)' }),
    network: network.optional(),
    pods: z.array(pod).min(1).max(LIMITS.pods),
    services: z.array(serviceRef).max(LIMITS.services).optional().meta({ description: 'Kubernetes Services of the lab workloads' }),
    externalHosts: z.array(externalHost).max(LIMITS.externalHosts).optional(),
    capture: z
      .string()
      .optional()
      .meta({ description: 'set by the loader from lab: { capture: DIR }: the capture folder the first pod replays (its rules and its sidecar\'s configuration, as captured)' }),
  })
  .meta({ description: 'The lab the scenario needs' });

/** A lab as a file writes it: `capture` is the loader's (from lab: { capture: DIR }). */
const writtenLab = lab.omit({ capture: true }).meta({ description: 'The lab the scenario needs' });

/** A Kubernetes or Istio resource, as the user would kubectl-apply it. */
/** The envelope of an object a setup step applies (its schema beyond that: k8s-objects.ts). */
export const ResourceSchema = z.looseObject({
  apiVersion: z.string().min(1),
  kind: z.enum([
    'Service',
    'ServiceEntry',
    'Sidecar',
    'PeerAuthentication',
    'DestinationRule',
    'VirtualService',
  ]),
  metadata: z.looseObject({ name, namespace: dnsLabel.optional() }),
});

const setupStep = z
  .strictObject({
    role: z
      .enum(['fault', 'fix', 'context'])
      .optional()
      .meta({
        description:
          'fault and fix steps are the change the scenario is about (--check-fault runs without them); context steps always apply; a step without a role is a fault',
      }),
    description: z.string().optional(),
    apply: ResourceSchema.optional().meta({ description: 'a resource to apply, inline' }),
    applyFile: z.string().min(1).optional().meta({ description: 'a YAML file of resources, relative to the scenario file' }),
    annotate: z
      .strictObject({ pod: name, annotations: z.record(z.string(), z.string()) })
      .optional()
      .meta({ description: 'pod annotations (traffic.sidecar.istio.io/*, sidecar.istio.io/interceptionMode)' }),
    meshConfig: meshConfig.optional(),
  })
  .meta({ description: 'One step: exactly one of apply, applyFile, annotate, meshConfig' });

// Evidence a probe asks for beyond what every probe records (the kernel's trace, the SYNs
// leaving the pod, the sidecars' access log): each goes into the report's evidence.
const capture = z
  .strictObject({
    tcpdump: z
      .strictObject({
        iface: z.enum(CAPTURE_IFACES),
        filter: z.string().min(1).meta({ description: 'a pcap filter, e.g. "tcp and host 10.0.0.6"' }),
        pod: name.optional().meta({ description: 'capture in this pod (default: the probe pod)' }),
      })
      .optional()
      .meta({ description: 'a tcpdump that runs while the probe does; its packets go into the evidence' }),
    conntrack: z.literal(true).optional().meta({ description: 'the probe pod\'s conntrack entries of the connection, after the probe' }),
  })
  .meta({ description: 'One capture: exactly one of tcpdump, conntrack' });

const reply = z
  .strictObject({
    exact: z.string().optional(),
    contains: z.string().optional(),
    pattern: z.string().max(1000).optional().meta({ description: 'an RE2 regular expression (the syntax of Envoy\'s safe_regex: no lookaround, no backreferences), matched anywhere in the reply' }),
    none: z.literal(true).optional().meta({ description: 'no reply bytes at all' }),
  })
  .meta({ description: 'What the client reads: exactly one of exact, contains, pattern, none' });

const listening = z.strictObject({
  address: z.string().min(1),
  port,
  uid: uid.optional(),
});

const expect = z.strictObject({
  outcome: z.enum(OUTCOMES).optional().meta({
    description:
      'reached: the target answered; refused / reset / timeout; closed: closed without a reply; http-error: an HTTP status >= 400',
  }),
  reply: reply.optional(),
  httpStatus: z.int().min(100).max(599).optional(),
  leavesPod: z.boolean().optional().meta({ description: 'whether a packet to the target leaves the pod on eth0' }),
  sourceSeenByApp: z
    .string()
    .refine((v) => IPV4.test(v) || POD_REF.test(v), { error: 'must be an IPv4 address such as 127.0.0.6, or a lab pod as pod/NAME' })
    .optional()
    .meta({ description: 'the peer address the server app saw, e.g. 127.0.0.6, or pod/NAME: that lab pod\'s address' }),
  path: z
    .array(z.string())
    .optional()
    .meta({ description: 'hops that must appear, in this order (others may come between)' }),
  notPath: z.array(z.string()).optional().meta({ description: 'hops that must not appear' }),
  listening: z.array(listening).optional().meta({ description: 'for tool ss: sockets that must be listening' }),
  rules: z.array(z.string()).optional().meta({ description: 'for tool iptables-save: rules that must be present, in order' }),
});

const probe = z
  .strictObject({
    name,
    description: z.string().optional(),
    from: z.strictObject({
      pod: name,
      container: z.enum(['app', 'istio-proxy']).optional(),
      uid: uid.optional().meta({ description: 'run as this uid (default: the app uid, 1000)' }),
    }),
    tool: z.enum(PROBE_TOOLS),
    target: z
      .strictObject({
        address: ipv4.optional(),
        host: z
          .string()
          .refine((h) => HOSTNAME.test(h) || POD_REF.test(h), { error: 'must be a host name such as details or redis.db, or a lab pod as pod/NAME' })
          .optional()
          .meta({ description: 'a name the pod resolves (a Service, an external host), or pod/NAME: that lab pod\'s own address, whatever the backend gives it' }),
        port: port.optional(),
        path: z.string().regex(/^\//, { error: 'must start with /' }).optional(),
        serverName: z
          .string()
          .regex(HOSTNAME, { error: 'must be a host name such as api.example.com' })
          .optional()
          .meta({ description: 'curl: an HTTPS request to this name (its TLS SNI and Host), dialled at the target; the lab\'s certificates are not checked' }),
      })
      .optional(),
    payload: z.string().optional().meta({ description: 'bytes to send; \\r\\n as in YAML double quotes' }),
    halfClose: z
      .boolean()
      .optional()
      .meta({ description: 'nc: shut the sending side after the payload (default true, nc -N); false keeps it open as a client such as redis-cli does (nc then ends when the server closes, or after the timeout)' }),
    timeout: duration.optional(),
    captures: z.array(capture).max(LIMITS.capturesPerProbe).optional(),
    expect,
  })
  .meta({ description: 'One probe: a tool run in a pod, with its captures and what must hold' });

const source = z
  .strictObject({
    seed: z.enum(SEED_IDS).optional().meta({ description: 'the seed article (shared/seeds) the scenario comes from' }),
    incident: z.string().optional().meta({ description: 'an incident report, by id or link' }),
    note: z.string().optional(),
  })
  .meta({ description: 'Where the situation comes from: a seed article or an incident' });

export const ScenarioSchema = z
  .strictObject({
    apiVersion: z.literal(SCENARIO_API_VERSION),
    kind: z.literal('Scenario'),
    metadata: z.strictObject({
      name,
      description: z.string().min(1),
      tags: z.array(name).optional(),
      source,
      backends: z.array(z.enum(BACKENDS)).min(1).meta({ description: 'the backends that can run it' }),
      notOn: z
        .partialRecord(z.enum(BACKENDS), z.string().min(1))
        .optional()
        .meta({ description: 'why a backend is not in backends: run and validate give it as the reason, e.g. { kind: "its listener names carry the netns pod addresses" }' }),
    }),
    lab,
    setup: z.array(setupStep).max(LIMITS.setupSteps).optional(),
    probes: z.array(probe).min(1).max(LIMITS.probes),
  })
  .meta({
    title: 'istio-pathlab scenario',
    description: 'A lab, a change to it (a fault or a fix), and probes whose paths are checked hop by hop',
  });

/**
 * A scenario's lab by reference: a Lab file (kind: Lab), relative to the scenario's folder, with
 * this scenario's additions: its pods, Services and external hosts are added to the file's,
 * its istio fields, meshConfig, proxy and network replace the file's.
 */
export const LabRefSchema = z
  .strictObject({
    file: z
      .string()
      .regex(/\.ya?ml$/, { error: 'must name a Lab file (.yaml or .yml)' })
      .meta({ description: 'a Lab file (kind: Lab), relative to the scenario\'s folder, e.g. ../../labs/netns/bookinfo.yaml' }),
    istio: lab.shape.istio.partial().optional(),
    meshConfig: lab.shape.meshConfig,
    proxy: lab.shape.proxy,
    network: lab.shape.network,
    pods: z.array(pod).max(LIMITS.pods).optional(),
    services: lab.shape.services,
    externalHosts: lab.shape.externalHosts,
  })
  .meta({ description: 'The lab of a Lab file, with this scenario\'s additions' });

/**
 * A scenario's lab from a capture (`pathlab capture --out DIR`): the captured pod, replayed in the
 * netns lab with its rules and its sidecar's configuration as captured, and the hosts it talks to
 * at their captured addresses. The loader makes it a lab: the pod first (its name, namespace,
 * address, labels and annotations as captured), the Istio era of its version, a pod network
 * around its address; then this scenario's pods (not meshed) and hosts.
 */
export const LabCaptureSchema = z
  .strictObject({
    capture: z
      .string()
      .min(1)
      .meta({ description: 'a capture folder (pathlab capture --out DIR), relative to the scenario\'s folder' }),
    istio: lab.shape.istio.partial().optional(),
    network: lab.shape.network,
    pods: z.array(pod).max(LIMITS.pods - 1).optional().meta({ description: 'more pods beside the captured one (not meshed: only the captured pod has a sidecar)' }),
    services: lab.shape.services,
    externalHosts: lab.shape.externalHosts.meta({ description: 'the hosts the captured pod talks to, at their captured addresses and ports' }),
  })
  .meta({ description: 'A lab made from a capture: the captured pod replayed, with this scenario\'s hosts' });

/**
 * A scenario file as written: its lab inline, by reference (LabRefSchema) or from a capture (LabCaptureSchema). The loader reads
 * the reference and checks the result as ScenarioSchema; this is the published JSON Schema's.
 */
export const ScenarioDocumentSchema = ScenarioSchema.extend({ lab: z.union([writtenLab, LabRefSchema, LabCaptureSchema]) });

export type Scenario = z.infer<typeof ScenarioSchema>;
export type Probe = Scenario['probes'][number];
export type SetupStep = NonNullable<Scenario['setup']>[number];
export type LabSpec = Scenario['lab'];
export type PodSpec = LabSpec['pods'][number];

/** A lab definition on its own (labs/*.yaml), for `pathlab lab up --lab FILE`. */
export const LabFileSchema = z
  .strictObject({
    apiVersion: z.literal(SCENARIO_API_VERSION),
    kind: z.literal('Lab'),
    metadata: z.strictObject({ name, description: z.string().min(1).optional() }),
    lab: writtenLab,
  })
  .meta({ title: 'istio-pathlab lab', description: 'A lab: pods, Services, external hosts, the Istio version' });

export type LabFile = z.infer<typeof LabFileSchema>;
