// Walks a connection's first packet through loaded rules in the kernel's order and reports every
// rule that matched (numbered from 1 inside its chain, as `iptables -L --line-numbers` does), the
// chain returns and policies on the way, and the final effect.
import { isLoopback, parseIp, parsePrefix } from './ip-address.ts';
import type { IpPrefix } from './ip-address.ts';
import { loadRuleSet } from './iptables-save-parser.ts';
import type { LoadedChain, LoadedTables, Rule, RuleMatch, RuleOption, RuleSet } from './rule-set.ts';

export interface Connection {
  /** `out`: made by a local process (OUTPUT hooks); `in`: arriving on an interface (PREROUTING hooks). */
  direction: 'out' | 'in';
  proto: 'tcp' | 'udp' | 'icmp' | string;
  src: string;
  dst: string;
  sport?: number;
  dport: number;
  uid?: number;
  gid?: number;
  /** Output interface (outbound). Default: `lo` for loopback destinations, else `eth0`. */
  oif?: string;
  /** Input interface (inbound). Default `eth0`. */
  iif?: string;
  /** Packet mark and connection mark before the walk (default 0). */
  mark?: number;
  connmark?: number;
  /** Conntrack state of the packet (default NEW: the first packet of a connection). */
  ctstate?: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
}

export interface TraceHop {
  table: string;
  chain: string;
  /** 1-based position of the matching rule inside its chain. */
  rule: number;
  target: string;
}

/** Something that happened without a matching rule: a user chain ran out (implicit return) or a policy applied. */
export interface TraceStep {
  table: string;
  chain: string;
  kind: 'rule' | 'return' | 'policy';
  rule?: number;
  target?: string;
  verdict?: string;
}

export interface TraceEffect {
  /** What happened to the packet in the end. */
  verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  /** REDIRECT (nat) to this port. */
  redirectPort?: number;
  /** TPROXY to this port. */
  tproxyPort?: number;
  /** DNAT destination as written. */
  dnat?: string;
  /** Packet mark after the walk, if a rule set one. */
  mark?: number;
  /** Conntrack zone set by a CT rule. */
  zone?: number;
}

export interface Trace {
  hops: TraceHop[];
  steps: TraceStep[];
  effect: TraceEffect;
}

export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

export interface TraceOptions {
  /** Names for `--uid-owner`/`--gid-owner` values that are not numbers. */
  users?: Record<string, number>;
  groups?: Record<string, number>;
}

const HOOK_TABLES = ['raw', 'mangle', 'nat', 'filter'] as const;

interface Packet {
  conn: Connection;
  src: { v6: boolean; addr: bigint };
  dst: { v6: boolean; addr: bigint };
  /** IPv4 addresses as numbers (undefined for IPv6). */
  src4?: number;
  dst4?: number;
  iif?: string;
  oif?: string;
  mark: number;
  connmark: number;
  ctstate: string;
}

/** Trace `conn` through `rules` (a parsed RuleSet or already loaded tables). */
const NO_OPTIONS: TraceOptions = {};

export function traceConnection(rules: RuleSet | LoadedTables, conn: Connection, options: TraceOptions = NO_OPTIONS): Trace {
  const tables = rules instanceof Map ? rules : loadRuleSet(rules);
  const src = parseIp(conn.src);
  const dst = parseIp(conn.dst);
  if (!src) throw new TraceError(`bad source address "${conn.src}"`);
  if (!dst) throw new TraceError(`bad destination address "${conn.dst}"`);
  if (src.v6 !== dst.v6) throw new TraceError('source and destination are of different families');
  const pkt: Packet = {
    conn, src, dst,
    mark: conn.mark ?? 0,
    connmark: conn.connmark ?? 0,
    ctstate: conn.ctstate ?? 'NEW',
  };
  if (!src.v6) {
    pkt.src4 = Number(src.addr);
    pkt.dst4 = Number(dst.addr);
  }
  if (conn.direction === 'out') pkt.oif = conn.oif ?? (isLoopback(dst) ? 'lo' : 'eth0');
  else pkt.iif = conn.iif ?? 'eth0';
  const hook = conn.direction === 'out' ? 'OUTPUT' : 'PREROUTING';
  const hops: TraceHop[] = [];
  const steps: TraceStep[] = [];
  const effect: TraceEffect = { verdict: 'ACCEPT' };
  for (const table of HOOK_TABLES) {
    const chains = tables.get(table);
    const base = chains?.get(hook);
    if (!chains || !base) continue;
    if (table === 'nat' && pkt.ctstate !== 'NEW') continue; // nat sees only a connection's first packet
    const verdict = walkTable(table, chains, base, pkt, hops, steps, effect, options);
    if (verdict === 'DROP' || verdict === 'REJECT') {
      effect.verdict = verdict;
      break;
    }
  }
  if (pkt.mark !== (conn.mark ?? 0)) effect.mark = pkt.mark;
  return { hops, steps, effect };
}

type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';

function walkTable(
  table: string, chains: Map<string, LoadedChain>, base: LoadedChain, pkt: Packet,
  hops: TraceHop[], steps: TraceStep[], effect: TraceEffect, options: TraceOptions,
): Verdict {
  const stack: { chain: LoadedChain; next: number }[] = [{ chain: base, next: 0 }];
  let guard = 0;
  while (stack.length > 0) {
    if (++guard > 100000) throw new TraceError(`${table}: rule loop`);
    const frame = stack[stack.length - 1] as { chain: LoadedChain; next: number };
    const { chain } = frame;
    if (frame.next >= chain.rules.length) {
      stack.pop();
      if (stack.length === 0 || chain.builtin) {
        // the end of the base chain (or of a chain the base chain went to with -g): its policy decides
        steps.push({ table, chain: base.name, kind: 'policy', verdict: base.policy });
        return policyVerdict(base.policy);
      }
      steps.push({ table, chain: chain.name, kind: 'return' });
      continue;
    }
    const index = frame.next++;
    const rule = chain.rules[index] as Rule;
    if (!ruleMatches(rule, pkt, table, chain.name, options)) continue;
    const target = rule.target;
    const hop: TraceHop = { table, chain: chain.name, rule: index + 1, target: target?.name ?? '' };
    hops.push(hop);
    steps.push({ table, chain: chain.name, kind: 'rule', rule: index + 1, target: hop.target });
    if (!target) continue;
    const name = target.name;
    const opt = (n: string): string | undefined => target.options.find((o) => o.name === n)?.values[0];
    switch (name) {
      case 'ACCEPT':
        return 'ACCEPT';
      case 'DROP':
        return 'DROP';
      case 'REJECT':
        return 'REJECT';
      case 'RETURN': {
        stack.pop();
        if (stack.length === 0) {
          steps.push({ table, chain: base.name, kind: 'policy', verdict: base.policy });
          return policyVerdict(base.policy);
        }
        continue;
      }
      case 'REDIRECT': {
        const p = opt('--to-ports') ?? opt('--to-port');
        if (p !== undefined) effect.redirectPort = Number(p.split(/[-:]/)[0]);
        else effect.redirectPort = pkt.conn.dport;
        return 'ACCEPT';
      }
      case 'DNAT': {
        effect.dnat = opt('--to-destination') ?? '';
        return 'ACCEPT';
      }
      case 'SNAT':
      case 'MASQUERADE':
        return 'ACCEPT';
      case 'TPROXY': {
        effect.tproxyPort = Number(opt('--on-port') ?? pkt.conn.dport);
        const m = opt('--tproxy-mark');
        if (m !== undefined) pkt.mark = applyMark(pkt.mark, m, true);
        return 'ACCEPT';
      }
      case 'MARK': {
        const set = opt('--set-mark') ?? opt('--set-xmark');
        if (set !== undefined) pkt.mark = applyMark(pkt.mark, set, opt('--set-mark') !== undefined);
        continue;
      }
      case 'CONNMARK': {
        if (target.options.some((o) => o.name === '--save-mark')) pkt.connmark = pkt.mark;
        else if (target.options.some((o) => o.name === '--restore-mark')) pkt.mark = pkt.connmark;
        else {
          const set = opt('--set-mark') ?? opt('--set-xmark');
          if (set !== undefined) pkt.connmark = applyMark(pkt.connmark, set, opt('--set-mark') !== undefined);
        }
        continue;
      }
      case 'CT': {
        const z = opt('--zone');
        if (z !== undefined) effect.zone = Number(z);
        continue;
      }
      case 'NFLOG':
      case 'LOG':
      case 'TRACE':
        continue;
      default: {
        const next = chains.get(name);
        if (!next || next.builtin) throw new TraceError(`${table}/${chain.name}#${index + 1}: unknown target or chain "${name}"`);
        if (target.goto) stack.pop();
        stack.push({ chain: next, next: 0 });
      }
    }
  }
  return 'ACCEPT';
}

function policyVerdict(policy: string): Verdict {
  return policy === 'DROP' ? 'DROP' : 'ACCEPT';
}

function num(v: string): number {
  return v.startsWith('0x') ? parseInt(v, 16) : Number(v);
}

/** `--set-mark V[/M]` (or-mask semantics of MARK: clear M, set V) and `--set-xmark V[/M]` (clear M, xor V). */
function applyMark(current: number, spec: string, orSemantics: boolean): number {
  const [v, m] = spec.split('/');
  const value = num(v as string) >>> 0;
  const mask = m === undefined ? 0xffffffff : num(m) >>> 0;
  return orSemantics ? ((current & ~mask) | value) >>> 0 : ((current & ~mask) ^ value) >>> 0;
}

type Predicate = (pkt: Packet) => boolean;

/** Each rule's matches compiled once into predicates (per set of trace options). */
const compiled = new WeakMap<Rule, { options: TraceOptions; preds: Predicate[] }>();

function ruleMatches(rule: Rule, pkt: Packet, table: string, chain: string, options: TraceOptions): boolean {
  let c = compiled.get(rule);
  if (!c || c.options !== options) {
    c = { options, preds: rule.matches.map((m) => compileMatch(m, rule, table, chain, options)) };
    compiled.set(rule, c);
  }
  for (const p of c.preds) if (!p(pkt)) return false;
  return true;
}

function where(rule: Rule, table: string, chain: string): string {
  return `${table}/${chain}${rule.line ? ` (line ${rule.line})` : ''}`;
}

const portRanges = new Map<string, [number, number][]>();

function portInSpec(port: number | undefined, spec: string): boolean {
  if (port === undefined) return false;
  let ranges = portRanges.get(spec);
  if (!ranges) {
    ranges = spec.split(',').map((part) => {
      const [a, b] = part.split(':');
      const lo = a === '' || a === undefined ? 0 : Number(a);
      const hi = b === undefined ? lo : b === '' ? 65535 : Number(b);
      return [lo, hi] as [number, number];
    });
    portRanges.set(spec, ranges);
  }
  for (const [lo, hi] of ranges) if (port >= lo && port <= hi) return true;
  return false;
}

function ifaceMatches(actual: string | undefined, pattern: string): boolean {
  if (actual === undefined) return false;
  return pattern.endsWith('+') ? actual.startsWith(pattern.slice(0, -1)) : actual === pattern;
}

function idMatches(actual: number | undefined, spec: string, names: Record<string, number> | undefined, what: string, place: string): boolean {
  if (/^\d+$/.test(spec)) return actual !== undefined && actual === Number(spec);
  const [a, b] = spec.split('-');
  const resolve = (x: string): number => {
    if (/^\d+$/.test(x)) return Number(x);
    const n = names?.[x];
    if (n === undefined) throw new TraceError(`${place}: cannot resolve ${what} name "${x}" (give it a numeric id)`);
    return n;
  };
  const lo = resolve(a as string);
  const hi = b === undefined ? lo : resolve(b);
  return actual !== undefined && actual >= lo && actual <= hi;
}

function compileMatch(m: RuleMatch, rule: Rule, table: string, chain: string, options: TraceOptions): Predicate {
  const place = where(rule, table, chain);
  if (m.module === null) {
    const o = m.options[0] as RuleOption;
    const v = o.values[0] as string;
    const neg = o.negated;
    if (o.name === '-s' || o.name === '-d') {
      const parsed = parsePrefix(v);
      if (!parsed) throw new TraceError(`${place}: bad address "${v}"`);
      const src = o.name === '-s';
      if (!parsed.v6) {
        const mask = parsed.len === 0 ? 0 : (0xffffffff << (32 - parsed.len)) >>> 0;
        const net = (Number(parsed.addr) & mask) >>> 0;
        return (pkt) => {
          const n = src ? pkt.src4 : pkt.dst4;
          return (n !== undefined && ((n & mask) >>> 0) === net) !== neg;
        };
      }
      const shift = 128n - BigInt(parsed.len);
      const net = parsed.addr >> shift;
      return (pkt) => {
        const ip = src ? pkt.src : pkt.dst;
        return (ip.v6 && ip.addr >> shift === net) !== neg;
      };
    }
    if (o.name === '-p') {
      const aliases: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'ipv6-icmp' };
      const p = v.toLowerCase();
      const any = p === 'all' || p === '0';
      const proto = aliases[p] ?? p;
      return (pkt) => (any || pkt.conn.proto === proto) !== neg;
    }
  }
  if ((m.module === 'tcp' || m.module === 'udp') && m.options.length === 1 && (m.options[0]?.name === '--dport' || m.options[0]?.name === '--destination-port')) {
    const o = m.options[0];
    const module = m.module;
    portInSpec(0, o.values[0] as string); // validate and cache the ranges now
    return (pkt) => pkt.conn.proto === module && portInSpec(pkt.conn.dport, o.values[0] as string) !== o.negated;
  }
  // everything else: checked now for errors that do not depend on the packet, evaluated per packet
  assertKnownMatch(m, place);
  return (pkt) => matchOne(m, pkt, rule, table, chain, options);
}

const KNOWN_MATCH_OPTIONS: Record<string, readonly string[]> = {
  tcp: ['--dport', '--destination-port', '--sport', '--source-port', '--syn'],
  udp: ['--dport', '--destination-port', '--sport', '--source-port'],
  multiport: ['--dports', '--destination-ports', '--sports', '--source-ports', '--ports'],
  owner: ['--uid-owner', '--gid-owner', '--socket-exists', '--suppl-groups'],
  mark: ['--mark'],
  connmark: ['--mark'],
  conntrack: ['--ctstate'],
  state: ['--state'],
  socket: [],
  comment: ['--comment'],
};

function assertKnownMatch(m: RuleMatch, place: string): void {
  if (m.module === null) {
    const name = m.options[0]?.name ?? '';
    if (!['-p', '-s', '-d', '-i', '-o'].includes(name)) throw new TraceError(`${place}: unknown match "${name}"`);
    return;
  }
  const known = KNOWN_MATCH_OPTIONS[m.module];
  if (!known) throw new TraceError(`${place}: unknown match module "-m ${m.module}"`);
  for (const o of m.options) if (!known.includes(o.name)) throw new TraceError(`${place}: unsupported -m ${m.module} option "${o.name}"`);
}

/** Parsed prefixes of `-s`/`-d` options, computed once per rule option. */
const prefixCache = new WeakMap<RuleOption, IpPrefix & { shift: bigint; mask: number; net: number }>();

function matchOne(m: RuleMatch, pkt: Packet, rule: Rule, table: string, chain: string, options: TraceOptions): boolean {
  const place = where(rule, table, chain);
  const c = pkt.conn;
  const all = (f: (o: RuleOption) => boolean): boolean => m.options.every((o) => f(o) !== o.negated);
  if (m.module === null) {
    const o = m.options[0] as RuleOption;
    const v = o.values[0] as string;
    let r: boolean;
    switch (o.name) {
      case '-p': {
        const p = v.toLowerCase();
        const aliases: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'ipv6-icmp' };
        r = p === 'all' || p === '0' || (aliases[p] ?? p) === c.proto;
        break;
      }
      case '-s':
      case '-d': {
        let prefix = prefixCache.get(o);
        if (prefix === undefined) {
          const parsed = parsePrefix(v);
          if (!parsed) throw new TraceError(`${place}: bad address "${v}"`);
          const mask = parsed.len === 0 ? 0 : (0xffffffff << (32 - parsed.len)) >>> 0;
          prefix = { ...parsed, shift: BigInt(parsed.v6 ? 128 : 32) - BigInt(parsed.len), mask, net: parsed.v6 ? 0 : (Number(parsed.addr) & mask) >>> 0 };
          prefixCache.set(o, prefix);
        }
        const ip = o.name === '-s' ? pkt.src : pkt.dst;
        if (prefix.v6 !== ip.v6) r = false;
        else if (!ip.v6) r = ((Number(ip.addr) & prefix.mask) >>> 0) === prefix.net;
        else r = prefix.addr >> prefix.shift === ip.addr >> prefix.shift;
        break;
      }
      case '-i':
        r = ifaceMatches(pkt.iif, v);
        break;
      case '-o':
        r = ifaceMatches(pkt.oif, v);
        break;
      default:
        throw new TraceError(`${place}: unknown match "${o.name}"`);
    }
    return r !== o.negated;
  }
  switch (m.module) {
    case 'tcp':
    case 'udp':
      if (c.proto !== m.module) return false;
      return all((o) => {
        switch (o.name) {
          case '--dport':
          case '--destination-port':
            return portInSpec(c.dport, o.values[0] as string);
          case '--sport':
          case '--source-port':
            return portInSpec(c.sport, o.values[0] as string);
          case '--syn':
            return c.proto === 'tcp' && pkt.ctstate === 'NEW';
          default:
            throw new TraceError(`${place}: unsupported -m ${m.module} option "${o.name}"`);
        }
      });
    case 'multiport':
      if (c.proto !== 'tcp' && c.proto !== 'udp') return false;
      return all((o) => {
        const spec = o.values[0] as string;
        switch (o.name) {
          case '--dports':
          case '--destination-ports':
            return portInSpec(c.dport, spec);
          case '--sports':
          case '--source-ports':
            return portInSpec(c.sport, spec);
          case '--ports':
            return portInSpec(c.dport, spec) || portInSpec(c.sport, spec);
          default:
            throw new TraceError(`${place}: unsupported -m multiport option "${o.name}"`);
        }
      });
    case 'owner':
      // Owner matches see the socket of a locally generated packet only.
      if (c.direction !== 'out') return false;
      return all((o) => {
        switch (o.name) {
          case '--uid-owner':
            return idMatches(c.uid, o.values[0] as string, options.users, 'user', place);
          case '--gid-owner':
            return idMatches(c.gid, o.values[0] as string, options.groups, 'group', place);
          case '--socket-exists':
            return true;
          case '--suppl-groups':
            return true;
          default:
            throw new TraceError(`${place}: unsupported -m owner option "${o.name}"`);
        }
      });
    case 'mark':
    case 'connmark':
      return all((o) => {
        if (o.name !== '--mark') throw new TraceError(`${place}: unsupported -m ${m.module} option "${o.name}"`);
        const [v, mk] = (o.values[0] as string).split('/');
        const mask = mk === undefined ? 0xffffffff : num(mk) >>> 0;
        const have = m.module === 'mark' ? pkt.mark : pkt.connmark;
        return ((have & mask) >>> 0) === (num(v as string) >>> 0);
      });
    case 'conntrack':
    case 'state':
      return all((o) => {
        if (o.name !== '--ctstate' && o.name !== '--state') throw new TraceError(`${place}: unsupported -m ${m.module} option "${o.name}"`);
        return (o.values[0] as string).split(',').includes(pkt.ctstate);
      });
    case 'socket':
      // an established local socket exists for the packet
      return pkt.ctstate !== 'NEW';
    case 'comment':
      return true;
    default:
      throw new TraceError(`${place}: unknown match module "-m ${m.module}"`);
  }
}
