// The predicted path of a connection, in the notation scenario files and observed paths use:
// explain's hops with the Envoy hops joined into one `envoy …` hop (listener hand-offs as
// `->`), as the sidecar's access log is turned into one observed hop. Pure.
import type { Explanation } from '../mesh/envoy/explain.ts';
import { formatEnvoyPath } from '../mesh/envoy/format-envoy-path.ts';

export function predictedHops(e: Pick<Explanation, 'hops' | 'outcome'>): string[] {
  const out: string[] = [];
  const envoy = e.hops.flatMap((h) => (h.kind === 'envoy' ? [{ listener: h.listener, ...(h.chain ? { chain: h.chain } : {}), ...(h.cluster ? { cluster: h.cluster } : {}) }] : []));
  let envoyPlaced = false;
  for (const h of e.hops) {
    if (h.kind === 'envoy') {
      if (!envoyPlaced) {
        const flags = e.outcome.responseFlag !== '-' ? ` flags=${e.outcome.responseFlag}` : '';
        out.push(`envoy ${formatEnvoyPath(envoy)}${flags}`);
        envoyPlaced = true;
      }
      continue;
    }
    out.push(h.text);
  }
  return out;
}
