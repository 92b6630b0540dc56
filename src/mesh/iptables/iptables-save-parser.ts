// Reads iptables-save output and iptables-restore payloads (both spellings: `-m tcp --dport` or a
// bare `--dport`, the kernel's match order or any other, `-I CHAIN N`, counters), and also the
// one-command-per-line form older Istio goldens used (`iptables -t nat -A ...`). Anything it
// cannot read is an IptablesParseError naming the line.
import { BUILTIN_CHAINS } from './constants.ts';
import type { ChainDecl, Counters, LoadedChain, LoadedTables, Rule, RuleMatch, RuleOption, RuleSet, RuleTarget, TableSection } from './rule-set.ts';

export class IptablesParseError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly source?: string,
  ) {
    super(`${source ? source + ':' : 'line '}${line}: ${reason}`);
    this.name = 'IptablesParseError';
  }
}

export interface ParseOptions {
  /** Table for rule lines that come before any `*table` header (bare rule listings such as seed004). */
  defaultTable?: string;
  /** File name for messages. */
  source?: string;
}

const GENERIC: Record<string, string> = {
  '-p': '-p', '--protocol': '-p', '-s': '-s', '--source': '-s', '--src': '-s', '-d': '-d', '--destination': '-d', '--dst': '-d',
  '-i': '-i', '--in-interface': '-i', '-o': '-o', '--out-interface': '-o',
};
/** Options known per match module, with the number of values each takes. */
export const MODULE_OPTIONS: Record<string, Record<string, number>> = {
  tcp: { '--dport': 1, '--sport': 1, '--destination-port': 1, '--source-port': 1, '--tcp-flags': 2, '--syn': 0, '--tcp-option': 1 },
  udp: { '--dport': 1, '--sport': 1, '--destination-port': 1, '--source-port': 1 },
  multiport: { '--dports': 1, '--sports': 1, '--ports': 1, '--destination-ports': 1, '--source-ports': 1 },
  owner: { '--uid-owner': 1, '--gid-owner': 1, '--socket-exists': 0, '--suppl-groups': 0 },
  mark: { '--mark': 1 },
  connmark: { '--mark': 1 },
  conntrack: { '--ctstate': 1, '--ctproto': 1, '--ctorigsrc': 1, '--ctorigdst': 1, '--ctreplsrc': 1, '--ctrepldst': 1, '--ctstatus': 1, '--ctdir': 1 },
  state: { '--state': 1 },
  comment: { '--comment': 1 },
  socket: { '--transparent': 0, '--nowildcard': 0, '--restore-skmark': 0 },
};

/** Split a line into words; double and single quotes group, backslash escapes inside double quotes. */
export function tokenize(text: string, line: number, source?: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    let word = '';
    let any = false;
    while (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
      const c = text[i] as string;
      if (c === '"' || c === "'") {
        const end = c === '"' ? findClosingDouble(text, i + 1) : text.indexOf("'", i + 1);
        if (end < 0) throw new IptablesParseError(`unterminated ${c} quote at column ${i + 1}`, line, source);
        const inner = text.slice(i + 1, end);
        word += c === '"' ? inner.replace(/\\(["\\])/g, '$1') : inner;
        i = end + 1;
        any = true;
      } else {
        word += c;
        i++;
        any = true;
      }
    }
    if (any) out.push(word);
  }
  return out;
}

function findClosingDouble(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  return -1;
}

function parseCounters(s: string, line: number, source?: string): Counters {
  const m = /^\[(\d+):(\d+)\]$/.exec(s);
  if (!m) throw new IptablesParseError(`bad counters "${s}" (expected [packets:bytes])`, line, source);
  return { packets: Number(m[1]), bytes: Number(m[2]) };
}

const CHAIN_NAME = /^[A-Za-z0-9_.:@+-][A-Za-z0-9_.:@+-]*$/;

/**
 * The start of a line a message names: a file that is not iptables text (read as root: a
 * shadow file, a key) must not have its content shown beyond the first characters.
 */
function startOf(raw: string): string {
  return raw.length > 8 ? `${raw.slice(0, 8)}…` : raw;
}

/** Parse iptables-save / iptables-restore text. */
export function parseIptablesSave(text: string, options: ParseOptions = {}): RuleSet {
  const { source } = options;
  const tables: TableSection[] = [];
  let current: TableSection | null = null;
  const lines = text.split(/\r?\n/);
  const fail = (reason: string, n: number): never => {
    throw new IptablesParseError(reason, n, source);
  };
  const sectionFor = (name: string): TableSection => {
    if (current && current.name === name && !current.committed) return current;
    const s: TableSection = { name, chains: [], rules: [], committed: false };
    tables.push(s);
    current = s;
    return s;
  };
  for (let idx = 0; idx < lines.length; idx++) {
    const n = idx + 1;
    const raw = (lines[idx] as string).trim();
    if (raw === '' || raw.startsWith('#')) continue;
    if (raw.startsWith('*')) {
      const name = raw.slice(1).trim();
      if (!/^[a-z]+$/.test(name)) fail(`bad table header "${startOf(raw)}"`, n);
      if (current && !current.committed) fail(`table "${name}" starts before COMMIT of "${current.name}"`, n);
      current = { name, chains: [], rules: [], committed: false };
      tables.push(current);
      continue;
    }
    if (raw === 'COMMIT') {
      if (!current || current.committed) fail('COMMIT without a table', n);
      (current as TableSection).committed = true;
      continue;
    }
    if (raw.startsWith(':')) {
      if (!current || current.committed) fail('chain declaration outside a table', n);
      const parts = raw.slice(1).split(/\s+/);
      const [name, policy, counters] = parts;
      if (!name || !CHAIN_NAME.test(name) || !policy || parts.length > 3) fail(`bad chain declaration "${startOf(raw)}" (expected :NAME POLICY [packets:bytes])`, n);
      const decl: ChainDecl = { name: name as string, style: 'declare', policy: policy as string, line: n };
      if (counters !== undefined) decl.counters = parseCounters(counters, n, source);
      (current as TableSection).chains.push(decl);
      continue;
    }
    let tokens = tokenize(raw, n, source);
    let table: string | undefined;
    if (tokens[0] === 'iptables' || tokens[0] === 'ip6tables' || tokens[0] === 'iptables-legacy' || tokens[0] === 'iptables-nft') {
      tokens = tokens.slice(1);
      table = 'filter';
      const t = tokens.indexOf('-t');
      if (t >= 0) {
        table = tokens[t + 1];
        if (!table || !/^[a-z]+$/.test(table)) fail('-t needs a table name', n);
        tokens.splice(t, 2);
      }
    }
    let counters: Counters | undefined;
    if (tokens[0]?.startsWith('[')) {
      counters = parseCounters(tokens[0], n, source);
      tokens = tokens.slice(1);
    }
    const op = tokens[0];
    let section: TableSection;
    if (table !== undefined) section = sectionFor(table);
    else if (current && !current.committed) section = current;
    else if (options.defaultTable) section = sectionFor(options.defaultTable);
    else return fail(`"${startOf(tokens[0] ?? raw)}" outside a table (expected a *table header first)`, n);
    if (op === '-N' || op === '--new-chain') {
      const name = tokens[1];
      if (!name || !CHAIN_NAME.test(name) || tokens.length > 2) fail(`bad -N line "${startOf(raw)}"`, n);
      section.chains.push({ name: name as string, style: 'new', line: n });
      continue;
    }
    if (op === '-P' || op === '--policy') {
      const [, name, policy] = tokens;
      if (!name || !policy || tokens.length > 3) fail(`bad -P line "${startOf(raw)}"`, n);
      section.chains.push({ name: name as string, style: 'declare', policy: policy as string, line: n });
      continue;
    }
    if (op !== '-A' && op !== '--append' && op !== '-I' && op !== '--insert') {
      return fail(`unknown line starting "${startOf(raw)}" (expected -A, -I, -N, :CHAIN, *table or COMMIT)`, n);
    }
    const chain = tokens[1];
    if (!chain || !CHAIN_NAME.test(chain) || chain.startsWith('-')) fail(`${op} needs a chain name`, n);
    let rest = tokens.slice(2);
    const rule: Rule = { chain: chain as string, matches: [], target: null, line: n };
    if (op === '-I' || op === '--insert') {
      if (rest[0] !== undefined && /^\d+$/.test(rest[0])) {
        rule.insertAt = Number(rest[0]);
        if (rule.insertAt < 1) fail('-I position must be 1 or more', n);
        rest = rest.slice(1);
      } else rule.insertAt = 1;
    }
    parseRuleBody(rule, rest, n, source);
    if (counters) rule.counters = counters;
    section.rules.push(rule);
  }
  return { tables };
}

function parseRuleBody(rule: Rule, tokens: string[], n: number, source?: string): void {
  const fail = (reason: string): never => {
    throw new IptablesParseError(reason, n, source);
  };
  let i = 0;
  let negate = false;
  let module: RuleMatch | null = null;
  let protocol: string | undefined;
  const takeValues = (count: number | null, what: string): string[] => {
    const vals: string[] = [];
    if (count === null) {
      while (i < tokens.length && !(tokens[i] as string).startsWith('-') && tokens[i] !== '!') vals.push(tokens[i++] as string);
      return vals;
    }
    for (let k = 0; k < count; k++) {
      let v = tokens[i];
      if (v === '!' && k === 0) {
        // old syntax: `--dport ! 53`
        negate = !negate;
        i++;
        v = tokens[i];
      }
      if (v === undefined) fail(`${what} needs a value`);
      vals.push(v as string);
      i++;
    }
    return vals;
  };
  while (i < tokens.length) {
    const tok = tokens[i] as string;
    if (tok === '!') {
      if (negate) fail('double "!"');
      negate = true;
      i++;
      continue;
    }
    if (tok === '-c' || tok === '--set-counters') {
      i++;
      const [p, b] = takeValues(2, tok);
      if (!/^\d+$/.test(p as string) || !/^\d+$/.test(b as string)) fail(`${tok} needs two numbers`);
      rule.counters = { packets: Number(p), bytes: Number(b) };
      continue;
    }
    const generic = GENERIC[tok];
    if (generic) {
      i++;
      const negBefore = negate;
      negate = false;
      const [v] = takeValues(1, tok);
      const negated = negBefore || negate;
      negate = false;
      if (generic === '-p') protocol = (v as string).toLowerCase();
      rule.matches.push({ module: null, implicit: false, options: [{ name: generic, negated, values: [v as string] }] });
      module = null;
      continue;
    }
    if (tok === '-m' || tok === '--match') {
      if (negate) fail('"!" before -m');
      i++;
      const name = tokens[i++];
      if (!name || name.startsWith('-')) fail('-m needs a module name');
      module = { module: name as string, implicit: false, options: [] };
      rule.matches.push(module);
      continue;
    }
    if (tok === '-j' || tok === '--jump' || tok === '-g' || tok === '--goto') {
      if (negate) fail(`"!" before ${tok}`);
      if (rule.target) fail('more than one target');
      i++;
      const name = tokens[i++];
      if (!name || name.startsWith('-')) fail(`${tok} needs a target`);
      const target: RuleTarget = { name: name as string, goto: tok === '-g' || tok === '--goto', options: [] };
      rule.target = target;
      // Target options: everything up to the next generic option or -m.
      while (i < tokens.length) {
        const t = tokens[i] as string;
        if (GENERIC[t] || t === '-m' || t === '--match' || t === '-j' || t === '-g' || t === '-c' || t === '!') break;
        if (!t.startsWith('--')) fail(`unexpected "${t}" after target ${name}`);
        i++;
        target.options.push({ name: t, negated: false, values: takeValues(null, t) });
      }
      module = null;
      continue;
    }
    if (tok.startsWith('--')) {
      // belongs to the open module if it knows the option, else to the implicit protocol module
      let owner = module;
      const known = owner?.module ? MODULE_OPTIONS[owner.module] : undefined;
      if (!owner || (known && !(tok in known))) {
        const proto = protocol && MODULE_OPTIONS[protocol] && tok in (MODULE_OPTIONS[protocol] as Record<string, number>) ? protocol : undefined;
        if (!proto) fail(owner ? `unknown option "${tok}" for -m ${owner.module}` : `option "${tok}" without a match module (-m) or protocol (-p tcp|udp)`);
        let implicit = rule.matches.find((m) => m.module === proto && m.implicit);
        if (!implicit) {
          implicit = { module: proto as string, implicit: true, options: [] };
          rule.matches.push(implicit);
        }
        owner = implicit;
      }
      i++;
      const negBefore = negate;
      negate = false;
      const arity = MODULE_OPTIONS[owner.module as string]?.[tok];
      const values = takeValues(arity ?? null, tok);
      const opt: RuleOption = { name: tok, negated: negBefore || negate, values };
      negate = false;
      owner.options.push(opt);
      continue;
    }
    fail(`unexpected "${tok}"`);
  }
  if (negate) fail('"!" at the end of the rule');
}

/**
 * Load the text the way the kernel would: declared chains, `-A` appends, `-I N` inserts at the
 * position the chain has at that moment. Built-in chains exist with policy ACCEPT unless declared.
 */
export function loadRuleSet(ruleSet: RuleSet): LoadedTables {
  const tables: LoadedTables = new Map();
  for (const section of ruleSet.tables) {
    let chains = tables.get(section.name);
    if (!chains) {
      chains = new Map();
      tables.set(section.name, chains);
    }
    const chainsOfTable = chains;
    const get = (name: string): LoadedChain => {
      let c = chainsOfTable.get(name);
      if (!c) {
        const builtin = BUILTIN_CHAINS.has(name);
        c = { name, builtin, policy: builtin ? 'ACCEPT' : '-', rules: [] };
        chainsOfTable.set(name, c);
      }
      return c;
    };
    for (const d of section.chains) {
      const c = get(d.name);
      if (c.builtin && d.policy && d.policy !== '-') c.policy = d.policy;
    }
    for (const r of section.rules) {
      const c = get(r.chain);
      if (r.insertAt === undefined) c.rules.push(r);
      else {
        if (r.insertAt > c.rules.length + 1) throw new IptablesParseError(`-I ${r.chain} ${r.insertAt}: the chain has only ${c.rules.length} rules`, r.line ?? 0);
        c.rules.splice(r.insertAt - 1, 0, r);
      }
    }
  }
  return tables;
}
