// The observed path of one probe, from its evidence: the kernel's rule trace, the sidecars'
// access log lines (the probe pod's and the target pod's), the SYNs tcpdump saw leave the pod, what the application reported and what
// the client read. Built as hops, in the order a packet meets them. Pure.
import type { TraceHop } from '../mesh/iptables/index.ts';
import { INBOUND_CAPTURE_PORT } from '../mesh/envoy/envoy-config.ts';
import type { EnvoyKey, Hop, IptablesEffect } from './hop.ts';

export interface AccessLogLine {
  listener?: string | null;
  /** The listener on the outbound capture port that took the connection (virtualOutbound; `virtual` before Istio 1.4), when the config names it. */
  receiving?: string;
  filter_chain?: string | null;
  upstream_cluster?: string;
  upstream_host?: string;
  response_flags?: string;
  response_code?: number;
  downstream_local_address?: string;
  route_name?: string;
}

/** The rules one connection's first packet matched, as the kernel traced them, and their effect. */
export interface TracedRules {
  hops: TraceHop[];
  /** `REDIRECT:15001`, `TPROXY:15006` … when the simulator agreed with the kernel rule for rule. */
  effect?: string;
}

export interface ObservedEvidence {
  kernel?: TracedRules;
  /** The port the kernel redirected to (15001 outbound, 15006 inbound), when it did. */
  capturePort?: number;
  accessLog?: AccessLogLine;
  /** The probe pod's later connections to the target port (its sidecar's own), as the kernel traced them. */
  later?: TracedRules[];
  /** In the target pod: the inbound capture, then its sidecar's connection to the app. */
  peer?: TracedRules[];
  /** The target pod's sidecar's access log line of the connection (inbound, 15006). */
  peerAccessLog?: AccessLogLine;
  /** Destinations of the SYNs that left the pod on eth0, in order. */
  wire: string[];
  /** What the answering application said about itself (the echo app's Hostname, port, peer). */
  app?: { pod: string; port: number; src: string };
  /** What the client read: its first line, and whether anything came at all. */
  reply: { firstLine: string; bytes: number };
}

/** The hop of a traced connection's rules. */
export function rulesHop(k: TracedRules): Hop {
  const steps = k.hops.map((h) => ({ table: h.table, chain: h.chain, rule: h.rule }));
  if (!k.effect) return { kind: 'iptables', steps };
  const colon = k.effect.indexOf(':');
  const effect: IptablesEffect = colon < 0 ? { target: k.effect as IptablesEffect['target'] } : { target: k.effect.slice(0, colon) as IptablesEffect['target'], arg: k.effect.slice(colon + 1) };
  return { kind: 'iptables', steps, effect };
}

/** The access log line as one envoy hop, after the catch-all listener that handed it off. */
export function accessLogHop(log: AccessLogLine, capturePort: number | undefined): Hop | undefined {
  if (!log.listener) return undefined;
  const attrs: Array<[EnvoyKey, string]> = [];
  // Outbound, the catch-all is the one the config has on 15001 (Istio 1.1's `virtual`). A line
  // read as outbound may be told apart as inbound by its caller (a peer's log): then it is virtualInbound.
  const catchAll = capturePort === INBOUND_CAPTURE_PORT ? 'virtualInbound' : (log.receiving ?? 'virtualOutbound');
  if (log.listener !== catchAll && capturePort !== undefined) attrs.push(['listener', catchAll]);
  attrs.push(['listener', log.listener]);
  const put = (k: EnvoyKey, v: string | null | undefined) => v && v !== '-' && attrs.push([k, v]);
  put('chain', log.filter_chain);
  put('cluster', log.upstream_cluster);
  put('route', log.route_name);
  put('flags', log.response_flags);
  put('upstream', log.upstream_host);
  return { kind: 'envoy', attrs };
}

export function observedHops(e: ObservedEvidence): Hop[] {
  const hops: Hop[] = [];
  if (e.kernel && e.kernel.hops.length > 0) hops.push(rulesHop(e.kernel));
  const envoy = e.accessLog ? accessLogHop(e.accessLog, e.capturePort) : undefined;
  if (envoy) hops.push(envoy);
  for (const k of e.later ?? []) if (k.hops.length > 0) hops.push(rulesHop(k));
  for (const dst of [...new Set(e.wire)]) hops.push({ kind: 'wire', attrs: [['iface', 'eth0'], ['dst', dst]] });
  // In the target pod: the inbound capture, its sidecar (what it logged), its connection to the app.
  const peerEnvoy = e.peerAccessLog ? accessLogHop(e.peerAccessLog, INBOUND_CAPTURE_PORT) : undefined;
  const peer = (e.peer ?? []).filter((k) => k.hops.length > 0);
  const captured = peer.findIndex((k) => k.effect?.endsWith(`:${INBOUND_CAPTURE_PORT}`));
  peer.forEach((k, i) => {
    hops.push(rulesHop(k));
    if (i === captured && peerEnvoy) hops.push(peerEnvoy);
  });
  if (captured < 0 && peerEnvoy) hops.push(peerEnvoy);
  if (e.app) hops.push({ kind: 'app', attrs: [['pod', e.app.pod], ['port', String(e.app.port)], ['src', e.app.src]] });
  hops.push(e.reply.bytes === 0 ? { kind: 'reply', text: '', closed: true } : { kind: 'reply', text: e.reply.firstLine });
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
