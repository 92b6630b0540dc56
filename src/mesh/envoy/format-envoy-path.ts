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

/** Parses the notation back into hops (for scenario files that write expected paths). */
export function parseEnvoyPath(text: string): EnvoyHopLike[] {
  const body = text.trim().replace(/^envoy\s+/, '');
  return body.split(/\s*->\s*/).map((part, i) => {
    const hop: Partial<EnvoyHopLike> = {};
    for (const field of part.trim().split(/\s+/)) {
      const eq = field.indexOf('=');
      const key = eq > 0 ? field.slice(0, eq) : '';
      const value = field.slice(eq + 1);
      if (key === 'listener') hop.listener = value;
      else if (key === 'chain') hop.chain = value;
      else if (key === 'cluster') hop.cluster = value;
      else throw new Error(`envoy hop ${i + 1}: unknown field "${field}" (expected listener=, chain=, cluster=)`);
    }
    if (!hop.listener) throw new Error(`envoy hop ${i + 1}: missing listener= in "${part.trim()}"`);
    return hop as EnvoyHopLike;
  });
}
