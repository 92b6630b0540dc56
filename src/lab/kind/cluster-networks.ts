// Where a probe on a real cluster may go: the cluster's own pod networks (each Node's
// spec.podCIDRs), its Service networks (the ServiceCIDR objects, networking.k8s.io/v1 since
// Kubernetes 1.33) and the lab group's external hosts (their own addresses; not the whole
// external network, whose gateway is the host), read from the cluster and the hosts the lab
// started, never from what the scenario says of the cluster's networks. Anything else (a public address, the host) is refused before
// a packet is sent. Pure.
import { cidrContains, parseCidr } from '../../scenario/ip.ts';

export interface ClusterNetworks {
  pods: string[];
  services: string[];
  external: string[];
}

/** The networks from the cluster's Node and ServiceCIDR objects, as the API returns them. */
export function clusterNetworksOf(
  nodes: ReadonlyArray<{ spec?: { podCIDR?: string; podCIDRs?: string[] } }>,
  serviceCidrs: ReadonlyArray<{ spec?: { cidrs?: string[] } }>,
  external: readonly string[],
): ClusterNetworks {
  const v4 = (c: string) => parseCidr(c) !== undefined;
  return {
    pods: [...new Set(nodes.flatMap((n) => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])))].filter(v4),
    services: [...new Set(serviceCidrs.flatMap((s) => s.spec?.cidrs ?? []))].filter(v4),
    external: [...external],
  };
}

/** Why a probe may not go to `ip` on this cluster, or undefined when it may. */
export function targetProblem(ip: string, nets: ClusterNetworks): string | undefined {
  // The pod's own loopback never leaves the pod.
  const all = ['127.0.0.0/8', ...nets.pods, ...nets.services, ...nets.external];
  if (all.some((c) => cidrContains(parseCidr(c)!, ip))) return undefined;
  const known = `pods ${nets.pods.join(', ') || '(none found)'}; Services ${nets.services.join(', ') || '(none found)'}; external ${nets.external.join(', ')}`;
  return `${ip} is in none of the cluster's networks (${known}): a probe only reaches the lab's own hosts`;
}
