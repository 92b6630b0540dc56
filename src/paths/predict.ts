// The predicted path of a connection, as hops: explain's iptables hops, its Envoy hops joined
// into one `envoy …` hop (listener hand-offs as `->`, as the access log is turned into one
// observed hop), where the bytes go, what the client reads. Pure.
import type { Explanation, IptablesTrace, PathHop } from '../mesh/envoy/explain.ts';
import { parseHop, type EnvoyKey, type Hop } from './hop.ts';

const ADDR_PORT = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;

/**
 * A predicted wire hop. Explain names the upstream by address when it knows one endpoint,
 * otherwise by cluster or DNS name, which no packet carries: the hop then says only that a
 * connection leaves on eth0. A connection to a loopback address or to the pod's own address
 * never reaches eth0 (the kernel delivers it on lo): no wire hop.
 */
function wireHop(h: PathHop, podIp: string | undefined): Hop | undefined {
  const dst = /\bdst=(\S+)/.exec(h.text)?.[1];
  const known = dst !== undefined && ADDR_PORT.test(dst);
  if (known && (dst.startsWith('127.') || (podIp !== undefined && dst.startsWith(`${podIp}:`)))) return undefined;
  return { kind: 'wire', attrs: known ? [['iface', 'eth0'], ['dst', dst]] : [['iface', 'eth0']] };
}

/** The kernel-only prediction (a pod without a sidecar): its iptables hops. */
export function kernelHopsOf(kt: IptablesTrace): Hop[] {
  return kt.hops.map((h) => parseHop(h.text));
}

export function predictedHops(e: Pick<Explanation, 'hops' | 'outcome'>, opts: { podIp?: string } = {}): Hop[] {
  const out: Hop[] = [];
  const envoy: Array<[EnvoyKey, string]> = [];
  let envoyAt = -1;
  for (const h of e.hops) {
    switch (h.kind) {
      case 'envoy':
        if (envoyAt < 0) {
          envoyAt = out.length;
          out.push({ kind: 'envoy', attrs: envoy });
        }
        envoy.push(['listener', h.listener]);
        if (h.chain !== undefined) envoy.push(['chain', h.chain]);
        if (h.cluster !== undefined) envoy.push(['cluster', h.cluster]);
        break;
      case 'wire': {
        const w = wireHop(h, opts.podIp);
        if (w) out.push(w);
        break;
      }
      default:
        out.push(parseHop(h.text));
    }
  }
  if (envoyAt >= 0 && e.outcome.responseFlag !== '-') envoy.push(['flags', e.outcome.responseFlag]);
  return out;
}
