// How iptables-save prints rules that were loaded from other spellings (notes/istio-iptables.md §3.3):
// generic matches in the order -s -d -i -o -p, implicit `-m tcp`/`-m udp` named, host bits of
// prefixes masked, `--to-port` as `--to-ports`; chains listed built-ins first, then user chains in
// byte order, each in final kernel order.
import { parsePrefix } from './ip-address.ts';
import { loadRuleSet } from './iptables-save-parser.ts';
import { printRule } from './print-iptables-save.ts';
import type { Rule, RuleMatch, RuleOption, RuleSet } from './rule-set.ts';

const GENERIC_ORDER = ['-s', '-d', '-i', '-o', '-p'];
const BUILTIN_ORDER = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

function maskPrefix(v: string): string {
  const p = parsePrefix(v);
  if (!p) return v;
  const bits = p.v6 ? 128n : 32n;
  const shift = bits - BigInt(p.len);
  const addr = (p.addr >> shift) << shift;
  if (p.v6) return `${formatV6(addr)}/${p.len}`;
  return `${[24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join('.')}/${p.len}`;
}

function formatV6(addr: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexGroups = groups.map((g) => g.toString(16));
  // inet_ntop's IPv4-compatible and IPv4-mapped forms: ::a.b.c.d and ::ffff:a.b.c.d
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
    const v4 = `${(groups[6] as number) >> 8}.${(groups[6] as number) & 255}.${(groups[7] as number) >> 8}.${(groups[7] as number) & 255}`;
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = hexGroups;
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const hex = (v: string): string => {
  const [a, m] = v.split('/');
  const h = (x: string): string => '0x' + (x.startsWith('0x') ? parseInt(x, 16) : Number(x)).toString(16);
  return m === undefined ? h(a as string) : `${h(a as string)}/${h(m)}`;
};

function targetSaveOptions(name: string, options: RuleOption[], family: 'ipv4' | 'ipv6'): RuleOption[] {
  const o = (n: string): RuleOption | undefined => options.find((x) => x.name === n);
  const opt = (n: string, ...values: string[]): RuleOption => ({ name: n, negated: false, values });
  switch (name) {
    case 'MARK': {
      const set = o('--set-mark');
      if (!set) return options;
      const [v, m] = (set.values[0] as string).split('/');
      return [opt('--set-xmark', `${hex(v as string)}/${hex(m ?? '0xffffffff')}`)];
    }
    case 'CONNMARK':
      if (o('--save-mark') || o('--restore-mark')) {
        return [opt(o('--save-mark') ? '--save-mark' : '--restore-mark'), opt('--nfmask', '0xffffffff'), opt('--ctmask', '0xffffffff')];
      }
      return options;
    case 'TPROXY': {
      const port = o('--on-port')?.values[0] ?? '0';
      const ip = o('--on-ip')?.values[0] ?? (family === 'ipv6' ? '::' : '0.0.0.0');
      const mark = o('--tproxy-mark')?.values[0];
      return [opt('--on-port', port), opt('--on-ip', ip), ...(mark ? [opt('--tproxy-mark', hex(mark))] : [])];
    }
    case 'REJECT':
      return options.length ? options : [opt('--reject-with', family === 'ipv6' ? 'icmp6-port-unreachable' : 'icmp-port-unreachable')];
    default:
      return options.map((x) => (x.name === '--to-port' ? { ...x, name: '--to-ports' } : x));
  }
}

export interface SaveFormOptions {
  family?: 'ipv4' | 'ipv6';
  /** Group and user names resolved at load time (`--gid-owner java` is saved as the number). */
  groups?: Record<string, number>;
  users?: Record<string, number>;
}

/** The rule as iptables-save would print it after loading. */
export function toSaveForm(rule: Rule, options: SaveFormOptions = {}): Rule {
  const family = options.family ?? 'ipv4';
  const generic = rule.matches.filter((m) => m.module === null);
  const modules = rule.matches.filter((m) => m.module !== null);
  const sorted = [...generic].sort((a, b) => GENERIC_ORDER.indexOf(a.options[0]?.name ?? '') - GENERIC_ORDER.indexOf(b.options[0]?.name ?? ''));
  const matches: RuleMatch[] = [
    ...sorted.map((m) => {
      const o = m.options[0];
      if (o && (o.name === '-s' || o.name === '-d')) return { ...m, options: [{ ...o, values: [maskPrefix(o.values[0] as string)] }] };
      return m;
    }),
    ...modules.map((m) => ({
      ...m,
      implicit: false,
      options: m.options.map((o) => {
        if ((m.module === 'mark' || m.module === 'connmark') && o.name === '--mark') return { ...o, values: [hex(o.values[0] as string)] };
        if (m.module === 'owner' && (o.name === '--gid-owner' || o.name === '--uid-owner')) {
          const names = o.name === '--gid-owner' ? options.groups : options.users;
          const v = o.values[0] as string;
          if (names && names[v] !== undefined) return { ...o, values: [String(names[v])] };
        }
        return o;
      }),
    })),
  ];
  const target = rule.target ? { ...rule.target, options: targetSaveOptions(rule.target.name, rule.target.options, family) } : null;
  const out: Rule = { chain: rule.chain, matches, target };
  return out;
}

/** Rule lines (`-A ...`) of every table, as iptables-save lists them after loading `ruleSet`. */
export function saveFormLines(ruleSet: RuleSet, options: SaveFormOptions = {}): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [table, chains] of loadRuleSet(ruleSet)) {
    const names = [...chains.keys()].sort((a, b) => {
      const ia = BUILTIN_ORDER.indexOf(a);
      const ib = BUILTIN_ORDER.indexOf(b);
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a < b ? -1 : a > b ? 1 : 0;
    });
    const lines: string[] = [];
    for (const n of names) for (const r of chains.get(n)?.rules ?? []) lines.push(printRule(toSaveForm(r, options)));
    out.set(table, lines);
  }
  return out;
}
