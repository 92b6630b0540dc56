// Writes a RuleSet back as text that parseIptablesSave reads to the same RuleSet.
import type { Rule, RuleOption, RuleSet } from './rule-set.ts';

function quote(v: string): string {
  return v === '' || /[\s"'\\]/.test(v) ? `"${v.replace(/(["\\])/g, '\\$1')}"` : v;
}

function printOption(o: RuleOption): string {
  return [o.negated ? '!' : '', o.name, ...o.values.map(quote)].filter((x) => x !== '').join(' ');
}

/** The rule's words after the chain: matches in their order, then the target. */
export function printRuleSpec(rule: Rule): string {
  const words: string[] = [];
  for (const m of rule.matches) {
    if (m.module !== null && !m.implicit) words.push('-m', m.module);
    for (const o of m.options) words.push(printOption(o));
  }
  if (rule.target) {
    words.push(rule.target.goto ? '-g' : '-j', rule.target.name);
    for (const o of rule.target.options) words.push(printOption(o));
  }
  return words.join(' ');
}

/** One rule line: `[p:b] -A CHAIN spec` or `-I CHAIN N spec`. */
export function printRule(rule: Rule): string {
  const head = rule.insertAt === undefined ? `-A ${rule.chain}` : `-I ${rule.chain} ${rule.insertAt}`;
  const spec = printRuleSpec(rule);
  const counters = rule.counters ? `[${rule.counters.packets}:${rule.counters.bytes}] ` : '';
  return `${counters}${head}${spec ? ' ' + spec : ''}`;
}

/** Print every table section: `*table`, chain declarations (`:NAME POLICY [p:b]` or `-N NAME`), rules, COMMIT. */
export function printIptablesSave(ruleSet: RuleSet): string {
  const lines: string[] = [];
  for (const t of ruleSet.tables) {
    lines.push(`*${t.name}`);
    for (const c of t.chains) {
      if (c.style === 'new') lines.push(`-N ${c.name}`);
      else lines.push(`:${c.name} ${c.policy ?? '-'}${c.counters ? ` [${c.counters.packets}:${c.counters.bytes}]` : ''}`);
    }
    for (const r of t.rules) lines.push(printRule(r));
    if (t.committed) lines.push('COMMIT');
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}
