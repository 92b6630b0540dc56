// How iptables-save prints rules that were loaded from other spellings (notes/istio-iptables.md §3.3):
// generic matches in the order -s -d -i -o -p, implicit `-m tcp`/`-m udp` named, host bits of
// prefixes masked, `--to-port` as `--to-ports`; chains listed built-ins first, then user chains in
// byte order, each in final kernel order.
import { parsePrefix } from './ip-address.ts';
import { loadRuleSet } from './iptables-save-parser.ts';
import { printRule } from './print-iptables-save.ts';
import type { Rule, RuleMatch, RuleSet } from './rule-set.ts';

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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The rule as iptables-save would print it after loading. */
export function toSaveForm(rule: Rule): Rule {
  const generic = rule.matches.filter((m) => m.module === null);
  const modules = rule.matches.filter((m) => m.module !== null);
  const sorted = [...generic].sort((a, b) => GENERIC_ORDER.indexOf(a.options[0]?.name ?? '') - GENERIC_ORDER.indexOf(b.options[0]?.name ?? ''));
  const matches: RuleMatch[] = [
    ...sorted.map((m) => {
      const o = m.options[0];
      if (o && (o.name === '-s' || o.name === '-d')) return { ...m, options: [{ ...o, values: [maskPrefix(o.values[0] as string)] }] };
      return m;
    }),
    ...modules.map((m) => ({ ...m, implicit: false })),
  ];
  const target = rule.target
    ? { ...rule.target, options: rule.target.options.map((o) => (o.name === '--to-port' ? { ...o, name: '--to-ports' } : o)) }
    : null;
  const out: Rule = { chain: rule.chain, matches, target };
  return out;
}

/** Rule lines (`-A ...`) of every table, as iptables-save lists them after loading `ruleSet`. */
export function saveFormLines(ruleSet: RuleSet): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [table, chains] of loadRuleSet(ruleSet)) {
    const names = [...chains.keys()].sort((a, b) => {
      const ia = BUILTIN_ORDER.indexOf(a);
      const ib = BUILTIN_ORDER.indexOf(b);
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a < b ? -1 : a > b ? 1 : 0;
    });
    const lines: string[] = [];
    for (const n of names) for (const r of chains.get(n)?.rules ?? []) lines.push(printRule(toSaveForm(r)));
    out.set(table, lines);
  }
  return out;
}
