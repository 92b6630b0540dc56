// The observed path of one probe, from its evidence: the kernel's rule trace, the sidecar's
// access log line, the SYNs tcpdump saw leave the pod, what the application reported and what
// the client read. Written in the same notation as expected paths. Pure.
import type { TraceHop } from '../mesh/iptables/index.ts';

export interface AccessLogLine {
  listener?: string | null;
  filter_chain?: string | null;
  upstream_cluster?: string;
  upstream_host?: string;
  response_flags?: string;
  response_code?: number;
  downstream_local_address?: string;
  route_name?: string;
}

export interface ObservedEvidence {
  /** The rules the connection's first packet matched, as the kernel traced them, and their effect. */
  kernel?: { hops: TraceHop[]; effect?: string };
  /** The port the kernel redirected to (15001 outbound, 15006 inbound), when it did. */
  capturePort?: number;
  accessLog?: AccessLogLine;
  /** The probe pod's later connections to the target port (its sidecar's own), as the kernel traced them. */
  later?: Array<{ hops: TraceHop[]; effect?: string }>;
  /** In the target pod: the inbound capture, then its sidecar's connection to the app. */
  peer?: Array<{ hops: TraceHop[]; effect?: string }>;
  /** Destinations of the SYNs that left the pod on eth0, in order. */
  wire: string[];
  /** What the answering application said about itself (the echo app's Hostname, port, peer). */
  app?: { pod: string; port: number; src: string };
  /** What the client read: its first line, and whether anything came at all. */
  reply: { firstLine: string; bytes: number };
}

export function observedHops(e: ObservedEvidence): string[] {
  const hops: string[] = [];
  if (e.kernel && e.kernel.hops.length > 0) {
    const steps = e.kernel.hops.map((h) => `${h.table}/${h.chain}#${h.rule}`);
    if (steps.length > 0) hops.push(`iptables ${steps.join(' -> ')}${e.kernel.effect ? ` ${e.kernel.effect}` : ''}`);
  }
  const log = e.accessLog;
  if (log?.listener) {
    const parts: string[] = [];
    const catchAll = e.capturePort === 15006 ? 'virtualInbound' : 'virtualOutbound';
    if (log.listener !== catchAll && e.capturePort !== undefined) parts.push(`listener=${catchAll}`, '->');
    parts.push(`listener=${log.listener}`);
    if (log.filter_chain) parts.push(`chain=${log.filter_chain}`);
    if (log.upstream_cluster && log.upstream_cluster !== '-') parts.push(`cluster=${log.upstream_cluster}`);
    if (log.route_name && log.route_name !== '-') parts.push(`route=${log.route_name}`);
    if (log.response_flags && log.response_flags !== '-') parts.push(`flags=${log.response_flags}`);
    if (log.upstream_host && log.upstream_host !== '-') parts.push(`upstream=${log.upstream_host}`);
    hops.push(`envoy ${parts.join(' ')}`);
  }
  const ruleHop = (k: { hops: TraceHop[]; effect?: string }): string => `iptables ${k.hops.map((h) => `${h.table}/${h.chain}#${h.rule}`).join(' -> ')}${k.effect ? ` ${k.effect}` : ''}`;
  for (const k of e.later ?? []) if (k.hops.length > 0) hops.push(ruleHop(k));
  for (const dst of [...new Set(e.wire)]) hops.push(`wire iface=eth0 dst=${dst}`);
  for (const k of e.peer ?? []) if (k.hops.length > 0) hops.push(ruleHop(k));
  if (e.app) hops.push(`app pod=${e.app.pod} port=${e.app.port} src=${e.app.src}`);
  hops.push(e.reply.bytes === 0 ? 'reply closed' : `reply ${JSON.stringify(e.reply.firstLine)}`);
  return hops;
}

/** The echo app's self-description in an HTTP answer (Hostname=, ServicePort=, RemoteAddr=). */
export function parseEchoReply(body: string): ObservedEvidence['app'] {
  const pod = /^Hostname=(\S+)$/m.exec(body)?.[1];
  const port = /^ServicePort=(\d+)$/m.exec(body)?.[1];
  const src = /^RemoteAddr=([\d.]+):\d+$/m.exec(body)?.[1];
  if (pod && port && src) return { pod, port: Number(port), src };
  // The TCP greeting: `hello from <pod> port <port> (peer <ip>:<port>)`
  const tcp = /^hello from (\S+) port (\d+) \(peer ([\d.]+):\d+\)$/m.exec(body);
  return tcp ? { pod: tcp[1]!, port: Number(tcp[2]), src: tcp[3]! } : undefined;
}
