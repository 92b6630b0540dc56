// istiod's own configuration for sidecars, from go/istiod-gen (Istio's fake discovery server:
// istiod's Kubernetes registry over a fake clientset, its config stores and ConfigGen), built by
// src/istio/istio-build.ts. One run takes the cluster's objects and a list of proxies and gives
// each proxy's config_dump.
import { exec } from '../lab/exec.ts';

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
};

/** Each proxy's config_dump as istiod generates it, by `name.namespace`. */
export async function istiodConfigDumps(istiodGen: string, input: IstiodGenInput): Promise<Map<string, unknown>> {
  const r = await exec([istiodGen], { input: JSON.stringify(input), timeoutMs: 120_000, env: { ...process.env, ...ISTIOD_FEATURES } });
  if (r.exitCode !== 0) throw new Error(`istiod-gen failed (exit ${r.exitCode}): ${(r.spawnError ?? r.stderr).trim().split('\n').slice(-5).join(' | ')}`);
  const out = JSON.parse(r.stdout) as { proxies: Array<{ name: string; namespace: string; configDump: unknown }> };
  return new Map(out.proxies.map((p) => [`${p.name}.${p.namespace}`, p.configDump]));
}
