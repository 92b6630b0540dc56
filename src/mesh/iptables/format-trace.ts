// The project's path notation for an iptables trace.
import type { Trace, TraceEffect } from './trace-connection.ts';

/** `REDIRECT:15001`, `TPROXY:15006`, `DNAT:10.0.0.1:80`, `DROP`, `ACCEPT`. */
export function formatEffect(effect: TraceEffect): string {
  if (effect.verdict !== 'ACCEPT') return effect.verdict;
  if (effect.redirectPort !== undefined) return `REDIRECT:${effect.redirectPort}`;
  if (effect.tproxyPort !== undefined) return `TPROXY:${effect.tproxyPort}`;
  if (effect.dnat !== undefined) return `DNAT:${effect.dnat}`;
  return 'ACCEPT';
}

/** `nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001` */
export function formatTracePath(trace: Trace): string {
  const hops = trace.hops.map((h) => `${h.table}/${h.chain}#${h.rule}`).join(' -> ');
  return hops ? `${hops} ${formatEffect(trace.effect)}` : formatEffect(trace.effect);
}

/** `OUTPUT#1 → ISTIO_OUTPUT#9 → ISTIO_REDIRECT#1 → REDIRECT :15001` (nat hops bare, other tables prefixed). */
export function formatTraceText(trace: Trace): string {
  const parts = trace.hops.map((h) => `${h.table === 'nat' ? '' : h.table + ':'}${h.chain}#${h.rule}`);
  parts.push(formatEffect(trace.effect).replace(/^(REDIRECT|TPROXY):/, '$1 :'));
  return parts.join(' → ');
}
