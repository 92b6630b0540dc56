// The path notation of DESIGN.md, shared by scenario files, `explain`, the observed side and
// every report. A path is a list of hops; each hop is one line:
//
//   iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001
//   envoy listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster
//   wire iface=eth0 dst=10.0.0.6:7000
//   app pod=details port=9080
//   reply "HTTP/1.1 400 Bad Request"
//
// parseHop is the one reader and formatHop the one writer: whatever a command or a report prints
// as a hop is formatHop's text, so it can be pasted into a scenario's expect.path. A value with a
// space, a quote or a character a terminal would not show as it is (a route named by a
// VirtualService, a chain an EnvoyFilter adds) is written as a JSON string: route="my route".
import { visibleControls } from '../scenario/text.ts';

/** What people type for the arrow between two rules of an iptables hop (the notation's is "->"). */
const ARROW_LOOKALIKES = new Set(['=>', '→', '-->', '>', '=', '—>', '–>']);

export const HOP_KINDS = ['iptables', 'envoy', 'wire', 'app', 'reply'] as const;
export type HopKind = (typeof HOP_KINDS)[number];

/** One rule that matched: table/chain#position, as `iptables -L --line-numbers` numbers it. */
export interface RuleStep {
  table: string;
  chain: string;
  rule: number;
}

/** What the kernel finally did with the connection in the hop's chains. */
export interface IptablesEffect {
  target: 'REDIRECT' | 'TPROXY' | 'DNAT' | 'ACCEPT' | 'DROP' | 'REJECT' | 'RETURN' | 'MARK';
  arg?: string;
}

export type Hop =
  | { kind: 'iptables'; steps: RuleStep[]; effect?: IptablesEffect }
  | { kind: 'envoy'; attrs: Array<[key: EnvoyKey, value: string]> }
  | { kind: 'wire'; attrs: Array<[key: WireKey, value: string]> }
  | { kind: 'app'; attrs: Array<[key: AppKey, value: string]> }
  | { kind: 'reply'; text: string; closed?: true };

export const ENVOY_KEYS = ['listener', 'chain', 'cluster', 'route', 'vhost', 'flags', 'upstream'] as const;
export const WIRE_KEYS = ['iface', 'src', 'dst', 'proto'] as const;
export const APP_KEYS = ['pod', 'port', 'src'] as const;
export type EnvoyKey = (typeof ENVOY_KEYS)[number];
export type WireKey = (typeof WIRE_KEYS)[number];
export type AppKey = (typeof APP_KEYS)[number];

/**
 * A filter chain without a name, as explain names it: `#N` (its position in filter_chains, from
 * 1) or `#default` (the listener's default_filter_chain). Envoy logs no name for such a chain, so
 * an observed hop says nothing of it: the path matcher takes `chain=#N` as satisfied by a hop
 * that names no chain.
 */
export const isUnnamedChain = (value: string): boolean => /^#(\d+|default)$/.test(value);

const EFFECTS = ['REDIRECT', 'TPROXY', 'DNAT', 'ACCEPT', 'DROP', 'REJECT', 'RETURN', 'MARK'] as const;

/** A notation the parser could not read; `offset` is the column (0-based) in the hop text. */
export class HopSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'HopSyntaxError';
  }
}

// A chain name is whatever iptables-save prints (no space); the rule number follows its last `#`.
const RULE_STEP = /^([a-z]+)\/(\S+)#([1-9]\d*)$/;
// A lab host's name: a DNS label, and for a Service in another namespace `.NAMESPACE`.
const HOST_NAME = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)?';
// IPv4, or IPv6 in brackets, each with an optional port: 10.0.0.6:7000, [fd00::6]:7000.
// Or a lab host by name, resolved to its address on each backend: pod/details:9080, svc/web:7000.
const ADDR_PORT = new RegExp(`^(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9a-fA-F:.]+\\]|(?:pod|svc)/${HOST_NAME})(:\\d{1,5})?$`);

/**
 * A lab host named in a hop, `pod/NAME` or `svc/NAME` (`svc/NAME.NAMESPACE`), with its port:
 * pod IPs differ from backend to backend (kind's CNI gives its own), so a scenario names the
 * host and each lab puts in its address before the path is compared.
 */
export const LAB_REF = new RegExp(`\\b(pod|svc)/(${HOST_NAME})(?::(\\d{1,5}))?`, 'g');

/** The keys whose values are addresses: where a lab host may be named. */
const ADDRESS_KEYS = new Set(['dst', 'src', 'upstream']);

/** The lab hosts a hop names, as `pod/NAME` / `svc/NAME` with the port each is named with (undefined: none). */
export function labRefsOf(hop: Hop): Array<{ ref: string; kind: 'pod' | 'svc'; name: string; port?: number }> {
  if (hop.kind !== 'envoy' && hop.kind !== 'wire' && hop.kind !== 'app') return [];
  return hop.attrs.flatMap(([k, v]) => (ADDRESS_KEYS.has(k) ? [...v.matchAll(LAB_REF)] : [])).map((m) => ({ ref: `${m[1]}/${m[2]}`, kind: m[1] as 'pod' | 'svc', name: m[2]!, ...(m[3] !== undefined ? { port: Number(m[3]) } : {}) }));
}

/**
 * The hop with each address of a named lab host written as its name again (`names`: IP → ref):
 * what --record writes keeps the scenario's names.
 */
export function withNames(hop: Hop, names: ReadonlyMap<string, string>): Hop {
  if (names.size === 0) return hop;
  return mapAddresses(hop, (v) => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(:\d{1,5})?$/.exec(v);
    const ref = m ? names.get(m[1]!) : undefined;
    return ref === undefined ? v : `${ref}${m![2] ?? ''}`;
  });
}

/** The hop with each named lab host replaced by its address in this lab (`addresses`: ref → IP). */
export function withAddresses(hop: Hop, addresses: ReadonlyMap<string, string>): Hop {
  return mapAddresses(hop, (v) =>
    v.replace(LAB_REF, (all, kind: string, name: string, port?: string) => {
      const ip = addresses.get(`${kind}/${name}`);
      return ip === undefined ? all : `${ip}${port !== undefined ? `:${port}` : ''}`;
    }),
  );
}

/** The hop with `f` applied to the value of each key that holds an address (dst, src, upstream). */
function mapAddresses(hop: Hop, f: (value: string) => string): Hop {
  if (hop.kind !== 'envoy' && hop.kind !== 'wire' && hop.kind !== 'app') return hop;
  return { ...hop, attrs: hop.attrs.map(([k, v]): [string, string] => [k, ADDRESS_KEYS.has(k) ? f(v) : v]) } as Hop;
}

/** Parses one hop line. Throws HopSyntaxError with the offending offset. */
export function parseHop(text: string): Hop {
  const m = /^\s*(\S+)(\s+|$)/.exec(text);
  if (!m || m[1] === undefined) throw new HopSyntaxError('empty hop (expected "<kind> ...")', 0);
  const kind = m[1];
  const rest = text.slice(m[0].length);
  const restOffset = m[0].length;
  switch (kind) {
    case 'iptables':
      return parseIptablesHop(rest, restOffset);
    case 'envoy':
      return { kind, attrs: parseAttrs(rest, restOffset, ENVOY_KEYS, true) };
    case 'wire':
      return { kind, attrs: parseAttrs(rest, restOffset, WIRE_KEYS, false) };
    case 'app':
      return { kind, attrs: parseAttrs(rest, restOffset, APP_KEYS, false) };
    case 'reply':
      return parseReplyHop(rest, restOffset);
    default:
      throw new HopSyntaxError(
        `unknown hop kind "${kind}" (expected ${HOP_KINDS.join(', ')})`,
        text.indexOf(kind),
      );
  }
}

function tokens(text: string, base: number): Array<{ tok: string; at: number }> {
  const out: Array<{ tok: string; at: number }> = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ tok: m[0], at: base + m.index });
  return out;
}

function parseIptablesHop(rest: string, base: number): Hop {
  const toks = tokens(rest, base);
  if (toks.length === 0) {
    throw new HopSyntaxError('an iptables hop needs at least one rule, e.g. nat/OUTPUT#1', base);
  }
  const steps: RuleStep[] = [];
  let effect: IptablesEffect | undefined;
  let expectStep = true;
  for (let i = 0; i < toks.length; i++) {
    const { tok, at } = toks[i]!;
    if (expectStep) {
      const s = RULE_STEP.exec(tok);
      if (!s) {
        throw new HopSyntaxError(
          `"${tok}" is not a rule (expected table/CHAIN#N, e.g. nat/ISTIO_OUTPUT#9)`,
          at,
        );
      }
      steps.push({ table: s[1]!, chain: s[2]!, rule: Number(s[3]) });
      expectStep = false;
    } else if (tok === '->') {
      expectStep = true;
    } else if (ARROW_LOOKALIKES.has(tok)) {
      // "=>", "→" and the like between rules: the arrow is meant, not an effect.
      throw new HopSyntaxError(`"${tok}" between rules: write "->" (table/CHAIN#N -> table/CHAIN#N … EFFECT)`, at);
    } else {
      if (i !== toks.length - 1) {
        throw new HopSyntaxError(`the effect "${tok}" must come last`, at);
      }
      const colon = tok.indexOf(':');
      const [target, arg] = colon < 0 ? [tok, undefined] : [tok.slice(0, colon), tok.slice(colon + 1)];
      if (!(EFFECTS as readonly string[]).includes(target)) {
        throw new HopSyntaxError(
          `unknown effect "${target}" (expected ${EFFECTS.join(', ')}, or "->" and another rule)`,
          at,
        );
      }
      if ((target === 'REDIRECT' || target === 'TPROXY') && !/^\d{1,5}$/.test(arg ?? '')) {
        throw new HopSyntaxError(`${target} needs its port, e.g. ${target}:15001`, at);
      }
      effect = arg === undefined ? { target: target as IptablesEffect['target'] } : { target: target as IptablesEffect['target'], arg };
    }
  }
  if (expectStep) {
    throw new HopSyntaxError('"->" must be followed by a rule', base + rest.trimEnd().length);
  }
  return effect ? { kind: 'iptables', steps, effect } : { kind: 'iptables', steps };
}

/**
 * The key=value tokens of an attribute hop. A value is bare (no space, not starting with a
 * quote) or a JSON string, which may hold spaces: `route="my route"`.
 */
function attrTokens(text: string, base: number): Array<{ tok: string; at: number; quoted?: string }> {
  const out: Array<{ tok: string; at: number; quoted?: string }> = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const eq = m[0].indexOf('=');
    if (eq <= 0 || m[0][eq + 1] !== '"') {
      out.push({ tok: m[0], at: base + m.index });
      continue;
    }
    // A quoted value runs to its closing quote (past spaces); a space or the end must follow it.
    const open = m.index + eq + 1;
    let close = open + 1;
    while (close < text.length && text[close] !== '"') close += text[close] === '\\' ? 2 : 1;
    if (close >= text.length) throw new HopSyntaxError(`the quoted value of "${m[0].slice(0, eq)}" has no closing quote`, base + open);
    if (close + 1 < text.length && !/\s/.test(text[close + 1]!)) {
      throw new HopSyntaxError('a quoted value must be followed by a space or the end of the hop', base + close + 1);
    }
    let quoted: string;
    try {
      quoted = JSON.parse(text.slice(open, close + 1)) as string;
    } catch {
      throw new HopSyntaxError(`the quoted value of "${m[0].slice(0, eq)}" is not a valid JSON string`, base + open);
    }
    out.push({ tok: text.slice(m.index, close + 1), at: base + m.index, quoted });
    re.lastIndex = close + 1;
  }
  return out;
}

function parseAttrs<K extends string>(
  rest: string,
  base: number,
  keys: readonly K[],
  arrows: boolean,
): Array<[K, string]> {
  const toks = attrTokens(rest, base);
  if (toks.length === 0) {
    throw new HopSyntaxError(`expected key=value pairs (keys: ${keys.join(', ')})`, base);
  }
  const out: Array<[K, string]> = [];
  for (const { tok, at, quoted } of toks) {
    if (tok === '->' && arrows && quoted === undefined) continue;
    const eq = tok.indexOf('=');
    if (eq <= 0 || (eq === tok.length - 1 && quoted === undefined)) {
      throw new HopSyntaxError(`"${tok}" is not key=value (keys: ${keys.join(', ')})`, at);
    }
    const key = tok.slice(0, eq);
    const value = quoted ?? tok.slice(eq + 1);
    if (!(keys as readonly string[]).includes(key)) {
      throw new HopSyntaxError(`unknown key "${key}" (expected ${keys.join(', ')})`, at);
    }
    if ((key === 'dst' || key === 'src') && !ADDR_PORT.test(value)) {
      throw new HopSyntaxError(`${key} must be IP, IP:PORT or a lab host (pod/NAME:PORT, svc/NAME:PORT), got "${value}"`, at + eq + 1);
    }
    if (key === 'port' && !/^\d{1,5}$/.test(value)) {
      throw new HopSyntaxError(`port must be a number, got "${value}"`, at + eq + 1);
    }
    out.push([key as K, value]);
  }
  return out;
}

function parseReplyHop(rest: string, base: number): Hop {
  const trimmed = rest.trim();
  // `reply closed`: the connection ended without a byte (BlackHoleCluster, no filter chain).
  if (trimmed === 'closed') return { kind: 'reply', text: '', closed: true };
  if (!trimmed.startsWith('"') || !trimmed.endsWith('"') || trimmed.length < 2) {
    throw new HopSyntaxError('a reply hop is a quoted text, e.g. reply "HTTP/1.1 400 Bad Request", or reply closed', base);
  }
  try {
    const text = JSON.parse(trimmed) as string;
    return { kind: 'reply', text };
  } catch {
    throw new HopSyntaxError('the reply text is not a valid quoted string', base);
  }
}

/**
 * A JSON string whose every character shows as it is: besides JSON's own escapes, what
 * visibleControls would rewrite for a terminal (DEL, C1 controls, line separators, bidi
 * overrides) is written as `\uNNNN`, so a report prints the hop unchanged and it parses back.
 */
function quote(text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (ch) => (visibleControls(ch) === ch ? ch : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** A key's value: bare when the tokenizer reads it back as it is, else quoted. */
function formatValue(value: string): string {
  return value === '' || /[\s"]/.test(value) || visibleControls(value) !== value ? quote(value) : value;
}

/** The notation of a hop: the inverse of parseHop. */
export function formatHop(hop: Hop): string {
  switch (hop.kind) {
    case 'iptables': {
      const steps = hop.steps.map((s) => `${s.table}/${s.chain}#${s.rule}`).join(' -> ');
      const eff = hop.effect ? ` ${hop.effect.target}${hop.effect.arg === undefined ? '' : `:${hop.effect.arg}`}` : '';
      return `iptables ${steps}${eff}`;
    }
    case 'envoy': {
      // Each listener after the first is a hand-off: "listener=a -> listener=b ...".
      const parts: string[] = [];
      for (const [k, v] of hop.attrs) {
        if (k === 'listener' && parts.length > 0) parts.push('->');
        parts.push(`${k}=${formatValue(v)}`);
      }
      return `envoy ${parts.join(' ')}`;
    }
    case 'wire':
    case 'app':
      return `${hop.kind} ${hop.attrs.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')}`;
    case 'reply':
      return hop.closed ? 'reply closed' : `reply ${quote(hop.text)}`;
  }
}
