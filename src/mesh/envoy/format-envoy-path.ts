// The project's path notation for Envoy hops (DESIGN.md "The path notation"):
//   listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster
// Unnamed filter chains (Istio before 1.6 names none) appear as `#<n>`, their 1-based position
// in filter_chains, or `default` for an unnamed default_filter_chain.

export interface EnvoyHopLike {
  listener: string;
  chain?: string;
  cluster?: string;
}

/** One hop: `listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster`. */
export function formatEnvoyHop(hop: EnvoyHopLike): string {
  let out = `listener=${hop.listener}`;
  if (hop.chain !== undefined) out += ` chain=${hop.chain}`;
  if (hop.cluster !== undefined) out += ` cluster=${hop.cluster}`;
  return out;
}

/** The Envoy part of a path, hops joined by ` -> ` (without the leading `envoy` kind word). */
export function formatEnvoyPath(hops: readonly EnvoyHopLike[]): string {
  return hops.map(formatEnvoyHop).join(' -> ');
}
