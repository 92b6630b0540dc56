// Each meshed pod's istio-proxy, as Istio's sidecar injector runs it: Istio's own pilot-agent
// (built from the Go module proxy), which renders Envoy's bootstrap from Istio's template,
// serves the workload certificate over SDS, proxies xDS to istiod and supervises the upstream
// Envoy. What the injector's pod spec gives it (environment, mounted credentials, proxy config),
// the lab gives here. Pure but for `prepareAgentDir`, which writes the pod's files.
import { chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlannedHost } from './plan.ts';

/** istiod's plaintext xDS port (15010; 15012 is its mTLS port, which needs istiod's CA). */
export const ISTIOD_XDS_PORT = 15010;

/** The pod's certificate, key and the lab's root, in PEM. */
export interface AgentPem {
  cert: string;
  key: string;
  ca: string;
}

/**
 * pilot-agent's working directory for the pod: its relative paths (./etc/istio/proxy for the
 * bootstrap and the XDS socket, ./var/run/secrets/workload-spiffe-uds for SDS) live there, and
 * the workload's credentials go where a file-mounted certificate goes
 * (./var/run/secrets/workload-spiffe-credentials): pilot-agent then serves them over SDS and asks
 * no CA. Everything is the proxy user's; the key readable by it alone.
 */
export function prepareAgentDir(dir: string, pem: AgentPem, template: string, user: { uid: number; gid: number }): void {
  const creds = join(dir, 'var', 'run', 'secrets', 'workload-spiffe-credentials');
  const dirs = [dir, join(dir, 'etc'), join(dir, 'etc', 'istio'), join(dir, 'etc', 'istio', 'proxy'), join(dir, 'var'), join(dir, 'var', 'run'), join(dir, 'var', 'run', 'secrets'), creds, join(dir, 'var', 'run', 'secrets', 'workload-spiffe-uds')];
  for (const d of dirs) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chownSync(d, user.uid, user.gid);
  }
  const files: Array<[string, string, number]> = [
    ['cert-chain.pem', pem.cert, 0o644],
    ['key.pem', pem.key, 0o600],
    ['root-cert.pem', pem.ca, 0o644],
  ];
  for (const [name, text, mode] of files) {
    writeFileSync(join(creds, name), text, { mode });
    chownSync(join(creds, name), user.uid, user.gid);
  }
  copyFileSync(template, join(dir, 'envoy_bootstrap_tmpl.json'));
  chownSync(join(dir, 'envoy_bootstrap_tmpl.json'), user.uid, user.gid);
}

export interface AgentLaunch {
  argv: string[];
  env: Record<string, string>;
}

/**
 * pilot-agent's command line and environment for the pod, as the injector's template writes them
 * (POD_NAME, POD_NAMESPACE, INSTANCE_IP, SERVICE_ACCOUNT, ISTIO_META_*, PROXY_CONFIG). The proxy
 * config differs from a cluster's where the lab needs it to:
 * - discoveryAddress: the lab's istiod, plaintext (controlPlaneAuthPolicy NONE, as Istio's VM
 *   sidecars may): its CA server is off, the lab CA issued the pod's certificate;
 * - fileFlushInterval 20 ms (Istio's default 1 s): the lab reads each probe's access log line;
 * - terminationDrainDuration 0 s: a pod whose interception mode changes starts again at once.
 * pilot-agent logs to stderr (--log_target); its stdout is Envoy's, where the access log goes.
 */
export function agentLaunch(h: PlannedHost, o: { pilotAgent: string; envoy: string; istiod: string; interception: 'REDIRECT' | 'TPROXY' }): AgentLaunch {
  const proxyConfig = {
    discoveryAddress: o.istiod,
    controlPlaneAuthPolicy: 'NONE',
    binaryPath: o.envoy,
    configPath: './etc/istio/proxy',
    concurrency: 2,
    interceptionMode: o.interception,
    fileFlushInterval: '0.020s',
    terminationDrainDuration: '0s',
  };
  const ports = (h.pod?.ports ?? []).map((p) => ({ containerPort: p.port, protocol: p.protocol ?? 'TCP', ...(p.name === undefined ? {} : { name: p.name }) }));
  return {
    argv: [o.pilotAgent, 'proxy', 'sidecar', '--templateFile', './envoy_bootstrap_tmpl.json', '--log_target', 'stderr', '--proxyLogLevel', 'warning'],
    env: {
      POD_NAME: h.name,
      POD_NAMESPACE: h.namespace,
      INSTANCE_IP: h.ip,
      SERVICE_ACCOUNT: h.name,
      HOST_IP: h.gateway,
      PROXY_CONFIG: JSON.stringify(proxyConfig),
      ISTIO_META_CLUSTER_ID: 'Kubernetes',
      ISTIO_META_INTERCEPTION_MODE: o.interception,
      ISTIO_META_POD_PORTS: JSON.stringify(ports),
      ISTIO_META_APP_CONTAINERS: 'app',
      ISTIO_META_WORKLOAD_NAME: h.name,
      TRUST_DOMAIN: 'cluster.local',
      // No cloud: pilot-agent would otherwise ask 169.254.169.254 which platform it is on (a SYN
      // out of the pod at every start, seen by the probes' capture).
      CLOUD_PLATFORM: 'none',
    },
  };
}

/** istiod's proxy ID of a pod (what its xDS connection is known by): pod.namespace. */
export const proxyIdOf = (h: PlannedHost) => `${h.name}.${h.namespace}`;
