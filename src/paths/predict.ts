// The predicted path of a connection, as hops: explain's iptables hops, its Envoy hops joined
// into one `envoy …` hop (listener hand-offs as `->`, as the access log is turned into one
// observed hop), where the bytes go, what the client reads. Every hop explain gives is written
// in the notation here (explainedHop), so `pathlab explain` prints what the runner predicts. Pure.
import type { Endpoint, Explanation, IptablesTrace, PathHop } from '../mesh/envoy/explain.ts';
import { parseHop, type EnvoyKey, type Hop } from './hop.ts';

/** `10.0.0.6:7000`, `[fd00::6]:7000`: an endpoint as a wire hop's dst. */
const hostPort = (e: Endpoint): string => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** One hop of explain's path in the notation (an Envoy hop on its own, as explain gives it). */
export function explainedHop(h: PathHop): Hop {
  switch (h.kind) {
    case 'iptables':
      return parseHop(h.text);
    case 'envoy': {
      const attrs: Array<[EnvoyKey, string]> = [['listener', h.listener]];
      if (h.chain !== undefined) attrs.push(['chain', h.chain]);
      if (h.cluster !== undefined) attrs.push(['cluster', h.cluster]);
      return { kind: 'envoy', attrs };
    }
    case 'wire':
      // Without an address explain knows only that a connection leaves on eth0 (to one of a cluster's endpoints).
      return { kind: 'wire', attrs: h.dst ? [['iface', 'eth0'], ['dst', hostPort(h.dst)]] : [['iface', 'eth0']] };
    case 'app':
      return { kind: 'app', attrs: [['port', String(h.port)]] };
    case 'reply':
      return 'closed' in h ? { kind: 'reply', text: '', closed: true } : { kind: 'reply', text: h.statusLine };
  }
}

/** The kernel-only prediction (a pod without a sidecar): its iptables hops. */
export function kernelHopsOf(kt: IptablesTrace): Hop[] {
  return kt.hops.map((h) => parseHop(h.text));
}

export function predictedHops(e: Pick<Explanation, 'hops' | 'outcome'>): Hop[] {
  const out: Hop[] = [];
  const envoy: Array<[EnvoyKey, string]> = [];
  let envoyAt = -1;
  for (const h of e.hops) {
    const hop = explainedHop(h);
    if (hop.kind !== 'envoy') {
      out.push(hop);
      continue;
    }
    if (envoyAt < 0) {
      envoyAt = out.length;
      out.push({ kind: 'envoy', attrs: envoy });
    }
    envoy.push(...hop.attrs);
  }
  if (envoyAt >= 0 && e.outcome.responseFlag !== '-') envoy.push(['flags', e.outcome.responseFlag]);
  return out;
}
