// Kernel rule traces as evidence: the kernel's own record of which rules a packet matched
// (`xtables-monitor --trace` for IPv4, `nft -a monitor trace` for IPv6, whose ip6tables rules
// xtables-monitor 1.8.9 cannot decode), with nft rule handles mapped to the positions
// `iptables -L --line-numbers` shows. Pure: the lab runs the commands, this reads their text.
import type { TraceHop } from '../mesh/iptables/index.ts';

/** The raw-table rule that asks the kernel to trace matching packets: how to insert it first, and remove it. */
export function traceRuleSpec(chain: 'OUTPUT' | 'PREROUTING', match: { proto: string; dst?: string; dport?: number }): { insert: string[]; remove: string[] } {
  const spec = ['-p', match.proto, ...(match.dst ? ['-d', match.dst] : []), ...(match.dport ? ['--dport', String(match.dport)] : []), '-j', 'TRACE'];
  return { insert: ['-t', 'raw', '-I', chain, '1', ...spec], remove: ['-t', 'raw', '-D', chain, ...spec] };
}

/** The connection a trace is read for: its direction, protocol and source port. */
export interface TracedConnection {
  direction: 'out' | 'in';
  proto: string;
  /** Pick the connection by its source port, or by destination (and `nth` among several). */
  sport?: number;
  dst?: string;
  dport?: number;
  /** 0-based: the n-th connection that matches (an app's call, then its sidecar's upstream). */
  nth?: number;
}

/**
 * `nft -a list table ip <table>` text per table → handle → {chain, position}, the TRACE rules
 * left out of the numbering (they are ours, not the pod's).
 */
export function handlePositions(listings: Record<string, string>): Map<string, { chain: string; rule: number }> {
  const out = new Map<string, { chain: string; rule: number }>();
  for (const [table, text] of Object.entries(listings)) {
    let chain = '';
    let pos = 0;
    for (const line of text.split('\n')) {
      const c = /^\s*chain (\S+) \{/.exec(line);
      if (c) {
        chain = c[1] as string;
        pos = 0;
        continue;
      }
      const h = /# handle (\d+)\s*$/.exec(line);
      if (!h || !chain || /^\s*(type|policy)/.test(line)) continue;
      if (line.includes('nftrace set 1')) {
        out.set(`${table}:${h[1]}`, { chain, rule: 0 });
        continue;
      }
      out.set(`${table}:${h[1]}`, { chain, rule: ++pos });
    }
  }
  return out;
}

/** `nft -a list ruleset` text → handle → {chain, position}, for every `table ip` in it. */
export function handlePositionsOfRuleset(text: string): Map<string, { chain: string; rule: number }> {
  const listings: Record<string, string> = {};
  let table: string | undefined;
  for (const line of text.split('\n')) {
    const t = /^table (\S+) (\S+) \{/.exec(line);
    if (t) table = t[1] === 'ip' ? t[2]! : undefined;
    if (table !== undefined) listings[table] = `${listings[table] ?? ''}${line}\n`;
  }
  return handlePositions(listings);
}

/**
 * The lab's own trace table: every connection attempt (SYN without ACK) leaving or arriving in
 * the pod is marked for the kernel's trace, before any of the pod's own tables sees it. It is
 * an nftables table of its own, so loading the pod's iptables rules (iptables-restore) leaves
 * it in place, and its rules are left out of the pod's rule numbering.
 */
export const TRACE_TABLE = 'pathlab_trace';
export const TRACE_TABLE_RULES = `table ip ${TRACE_TABLE} {
  chain out { type filter hook output priority -350; tcp flags & (syn|ack) == syn meta nftrace set 1; }
  chain pre { type filter hook prerouting priority -350; tcp flags & (syn|ack) == syn meta nftrace set 1; }
}
`;

/** Does the trace text hold the first packet of a connection to dst:dport (a barrier: all before it was printed)? */
export function traceHasSyn(text: string, dst: string, dport: number): boolean {
  return new RegExp(`^PACKET: .*\\bDST=${dst.replace(/\./g, '\\.')} .*\\bDPORT=${dport} .*\\bSYN\\b`, 'm').test(text);
}

export interface KernelEvent {
  table: string;
  chain: string;
  kind: 'rule' | 'return' | 'policy';
  handle?: number;
  target?: string;
  drop: boolean;
}

export interface KernelPacket {
  id: string;
  /** `OUT=lo SPORT=21000 SYN` style summary of the packet at this table. */
  header: string;
  events: KernelEvent[];
}

/** The kernel's hops for one connection: rule events of its first packet at the hook of its direction. */
export function kernelHops(packets: KernelPacket[], conn: TracedConnection, handles: Map<string, { chain: string; rule: number }>): { hops: TraceHop[]; verdict: string; first: Omit<KernelConnection, 'hops'> } | null {
  const atHook = (p: KernelPacket): boolean => (conn.direction === 'out' ? /\bOUT=/.test(p.header) && !/\bIN=/.test(p.header) : /\bIN=/.test(p.header));
  const firstPacket = (p: KernelPacket): boolean => (conn.proto === 'udp' ? !/\b(SYN|ACK|RST)\b/.test(p.header) : /\bSYN\b/.test(p.header) && !/\bACK\b/.test(p.header));
  const wanted = (p: KernelPacket): boolean =>
    (conn.sport === undefined || p.header.includes(`SPORT=${conn.sport} `)) &&
    (conn.dst === undefined || p.header.includes(`DST=${conn.dst} `)) &&
    (conn.dport === undefined || p.header.includes(`DPORT=${conn.dport} `));
  const firsts: KernelPacket[] = [];
  for (const p of packets) if (atHook(p) && wanted(p) && firstPacket(p) && !firsts.some((f) => f.id === p.id)) firsts.push(p);
  const first = firsts[conn.nth ?? 0];
  if (!first) return null;
  const field = (name: string): string => new RegExp(`\\b${name}=(\\S*)`).exec(first.header)?.[1] ?? '';
  const where = { src: field('SRC'), dst: field('DST'), dport: Number(field('DPORT')), iface: conn.direction === 'out' ? field('OUT') : field('IN') };
  const events = packets.filter((p) => p.id === first.id && atHook(p)).flatMap((p) => p.events);
  const hops: TraceHop[] = [];
  let verdict = 'ACCEPT';
  for (const e of events) {
    if (e.drop) verdict = 'DROP';
    if (e.kind !== 'rule') continue;
    const where = handles.get(`${e.table}:${e.handle}`);
    if (!where) throw new Error(`no position for ${e.table} handle ${e.handle}`);
    if (where.chain !== e.chain) throw new Error(`handle ${e.handle} is in ${where.chain}, the trace says ${e.chain}`);
    if (where.rule === 0) continue; // our TRACE rule
    hops.push({ table: e.table, chain: where.chain, rule: where.rule, target: e.target ?? '' });
  }
  return { hops, verdict, first: where };
}

/** One connection the kernel traced: its first packet's addresses and the rules it matched. */
export interface KernelConnection {
  src: string;
  dst: string;
  dport: number;
  /** OUT= of an outgoing packet, IN= of an arriving one. */
  iface: string;
  hops: TraceHop[];
}

/**
 * Every connection of a trace at the hook of its direction, in the order the kernel saw their
 * first packets (an app's call, then its sidecar's own connections), with the rules each matched.
 */
export function kernelConnections(packets: KernelPacket[], conn: { direction: 'out' | 'in'; proto: string; dport?: number }, handles: Map<string, { chain: string; rule: number }>): KernelConnection[] {
  const out: KernelConnection[] = [];
  for (let nth = 0; ; nth++) {
    const k = kernelHops(packets, { ...conn, nth }, handles);
    if (!k) return out;
    out.push({ ...k.first, hops: k.hops });
  }
}

/** `xtables-monitor --trace` output (IPv4). */
export function parseXtablesMonitor(text: string): KernelPacket[] {
  const packets: KernelPacket[] = [];
  let cur: KernelPacket | null = null;
  for (const line of text.split('\n')) {
    const p = /^PACKET: \d+ (\S+) (.*)$/.exec(line.trim());
    if (p) {
      cur = { id: p[1] as string, header: (p[2] as string) + ' ', events: [] };
      packets.push(cur);
      continue;
    }
    const t = /^TRACE: \d+ (\S+) (\w+):([^:]+):(rule|return|policy):(\S*)\s*(.*)$/.exec(line.trim());
    if (!t || !cur || t[1] !== cur.id) continue;
    const [, , table, chain, kind, rest, ruleText] = t as unknown as [string, string, string, string, 'rule' | 'return' | 'policy', string, string];
    const e: KernelEvent = { table, chain, kind, drop: /\bDROP\b/.test(rest) };
    if (kind === 'rule') {
      const [handle, verdict, arg] = rest.split(':');
      e.handle = parseInt((handle as string).replace(/^0x/, ''), 16);
      e.target = /(?:^|\s)-[jg] (\S+)/.exec(ruleText)?.[1] ?? (verdict === 'JUMP' || verdict === 'GOTO' ? arg : verdict === '0xfffffffb' ? 'RETURN' : undefined);
    }
    cur.events.push(e);
  }
  return packets;
}

/** nft statements → the iptables target they come from. */
export function targetOfNftRule(text: string): string | undefined {
  const checks: [RegExp, string | ((m: RegExpExecArray) => string)][] = [
    [/\bjump (\S+)/, (m) => m[1] as string], [/\bgoto (\S+)/, (m) => m[1] as string], [/\bxt target "?(\w+)"?/, (m) => m[1] as string],
    [/\breturn\b/, 'RETURN'], [/\bredirect\b/, 'REDIRECT'], [/\btproxy\b/, 'TPROXY'], [/\bdnat\b/, 'DNAT'], [/\bct zone set\b/, 'CT'],
    [/\bct mark set\b|meta mark set ct mark/, 'CONNMARK'], [/\bmeta mark set\b/, 'MARK'], [/\blog\b/, 'NFLOG'], [/\breject\b/, 'REJECT'],
    [/\bdrop\b/, 'DROP'], [/\baccept\b/, 'ACCEPT'],
  ];
  for (const [re, name] of checks) {
    const m = re.exec(text);
    if (m) return typeof name === 'string' ? name : name(m);
  }
  return undefined;
}

/**
 * `nft -a monitor trace` output (IPv6): the same kernel trace events. xtables-monitor 1.8.9 cannot
 * decode ip6tables rules with a TCP port match ("unsupported layer 4 protocol value") and stops.
 */
export function parseNftMonitor(text: string): KernelPacket[] {
  const packets: KernelPacket[] = [];
  const byKey = new Map<string, KernelPacket>();
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) \S+ (\S+) (\S+) (packet: |rule |policy |return)(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, table, chain, what, rest] = m as unknown as [string, string, string, string, string, string];
    if (what === 'packet: ') {
      const oif = /\boif "([^"]+)"/.exec(rest)?.[1];
      const iif = /\biif "([^"]+)"/.exec(rest)?.[1];
      const sport = /\b(?:tcp|udp) sport (\d+)/.exec(rest)?.[1];
      const flags = /\btcp flags == (\S+)/.exec(rest)?.[1];
      const header = `${iif ? `IN=${iif} ` : ''}${oif ? `OUT=${oif} ` : ''}SPORT=${sport ?? '?'} ${flags === 'syn' ? 'SYN ' : flags ? 'ACK ' : ''}`;
      const pkt: KernelPacket = { id, header, events: [] };
      packets.push(pkt);
      byKey.set(`${id}:${table}`, pkt);
      continue;
    }
    const pkt = byKey.get(`${id}:${table}`);
    if (!pkt) continue;
    if (what === 'rule ') {
      const h = /# handle (\d+) \(verdict ([^)]*)\)/.exec(rest);
      if (!h) continue;
      pkt.events.push({ table, chain, kind: 'rule', handle: Number(h[1]), target: targetOfNftRule(rest.slice(0, rest.indexOf('# handle'))), drop: /^drop/.test(h[2] as string) });
    } else if (what === 'policy ') pkt.events.push({ table, chain, kind: 'policy', drop: /drop/.test(rest) });
    else pkt.events.push({ table, chain, kind: 'return', drop: false });
  }
  return packets;
}
