// The kernel's part of a predicted path: a connection traced through a pod's rules (an
// iptables-save of the pod, or the rules istio-init renders: mesh/iptables/istio-init-rules.ts),
// in the shape `explain` takes. Pure.
import { arriving, type IptablesTrace } from '../mesh/envoy/explain.ts';
import { formatEffect, traceConnection, type LoadedTables, type RuleSet, type Trace } from '../mesh/iptables/index.ts';
import { formatHop, type Hop } from './hop.ts';
import { rulesHop } from './observe.ts';

/** The uid a pod's application runs as in the lab (istio-init captures every uid but the proxy's). */
export const APP_UID = 1000;

export interface KernelConnection {
  src: string;
  dst: { ip: string; port: number };
  /** The pod whose rules apply; a destination equal to it is inbound. */
  podIp?: string;
  uid?: number;
  gid?: number;
  proto?: 'tcp' | 'udp';
}

/** Whether the connection arrives at the pod (PREROUTING) or leaves a process in it (OUTPUT). */
export function directionOf(conn: KernelConnection): 'in' | 'out' {
  return arriving(conn) ? 'in' : 'out';
}

/** A simulator's trace as one iptables hop (its rules and effect); undefined when no rule matched. */
export function traceHop(trace: Trace): Hop | undefined {
  return trace.hops.length > 0 ? rulesHop({ hops: trace.hops, effect: formatEffect(trace.effect) }) : undefined;
}

/** Traces the connection's first packet through `rules` and says whether it reaches Envoy. */
export function kernelTrace(rules: RuleSet | LoadedTables, conn: KernelConnection): IptablesTrace {
  const direction = directionOf(conn);
  const viaLo = conn.dst.ip.startsWith('127.') || conn.dst.ip === conn.podIp;
  const uid = conn.uid ?? APP_UID;
  const trace = traceConnection(rules, {
    direction,
    proto: conn.proto ?? 'tcp',
    src: conn.src,
    dst: conn.dst.ip,
    dport: conn.dst.port,
    ...(direction === 'out' ? { uid, gid: conn.gid ?? uid, oif: viaLo ? 'lo' : 'eth0' } : { iif: 'eth0' }),
  });
  const hop = traceHop(trace);
  const port = trace.effect.redirectPort ?? trace.effect.tproxyPort;
  const who = `${direction === 'out' ? `a process of uid ${uid}` : 'a connection arriving on eth0'} to ${conn.dst.ip}:${conn.dst.port}`;
  if (port !== undefined) {
    return {
      hops: hop ? [{ text: formatHop(hop), reason: `${who}: ${trace.effect.tproxyPort !== undefined ? 'handed by TPROXY' : 'redirected'} to ${port}` }] : [],
      effect: { kind: 'redirected', port },
    };
  }
  const last = trace.hops.at(-1);
  const why = last ? `${last.table}/${last.chain}#${last.rule} ${last.target}` : `no rule matched (policy ${trace.effect.verdict})`;
  return {
    hops: hop ? [{ text: formatHop(hop), reason: `${who}: not redirected (${why})` }] : [],
    effect: { kind: 'not-redirected', reason: why },
  };
}
