// What a trace did in the end, as the path notation writes an iptables hop's effect. The hop
// itself (its rules and this effect) is written by paths/hop.ts formatHop, the one writer of hops.
import type { TraceEffect } from './trace-connection.ts';

/** `REDIRECT:15001`, `TPROXY:15006`, `DNAT:10.0.0.1:80`, `DROP`, `ACCEPT`. */
export function formatEffect(effect: TraceEffect): string {
  if (effect.verdict !== 'ACCEPT') return effect.verdict;
  if (effect.redirectPort !== undefined) return `REDIRECT:${effect.redirectPort}`;
  if (effect.tproxyPort !== undefined) return `TPROXY:${effect.tproxyPort}`;
  if (effect.dnat !== undefined) return `DNAT:${effect.dnat}`;
  return 'ACCEPT';
}
