// conntrack evidence: `conntrack -L` and /proc/net/nf_conntrack print the same key=value
// tuples (original direction first, then the reply direction). Pure parser.

export interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface ConntrackEntry {
  proto: string;
  state?: string;
  orig: Tuple;
  reply: Tuple;
  line: string;
}

export const conntrackArgv = (proto = 'tcp'): string[] => ['conntrack', '-L', '-p', proto];

/** Parses `conntrack -L` or /proc/net/nf_conntrack lines; lines without two tuples are skipped. */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const proto = /\b(tcp|udp|icmp)\b/.exec(line)?.[1];
    if (!proto) continue;
    const tuples: Array<Partial<Tuple>> = [];
    let cur: Partial<Tuple> = {};
    for (const [, k, v] of line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)) {
      if (k === 'src' && cur.src !== undefined) {
        tuples.push(cur);
        cur = {};
      }
      if (k === 'src' || k === 'dst') cur[k] = v!;
      else cur[k as 'sport' | 'dport'] = Number(v);
    }
    tuples.push(cur);
    const [o, r] = tuples;
    if (!o || !r || o.src === undefined || r.src === undefined) continue;
    const state = /\b(SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE|LISTEN)\b/.exec(line)?.[1];
    out.push({ proto, ...(state ? { state } : {}), orig: o as Tuple, reply: r as Tuple, line });
  }
  return out;
}

/**
 * Where a connection really ended: a REDIRECT shows as a reply tuple from 127.0.0.1 (the
 * sidecar's port), a connection that left the pod as a reply from its original destination.
 */
export function endpointOf(e: ConntrackEntry): string {
  return `${e.reply.src}:${e.reply.sport}`;
}
