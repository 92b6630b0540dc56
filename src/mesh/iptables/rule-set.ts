// The rules as data: what the parser reads from iptables-save / iptables-restore text, what the
// printer writes back, and what the tracer walks.

export interface Counters {
  packets: number;
  bytes: number;
}

/** One option of a match or target: `[!] --dport 53`, `--to-ports 15001`, `--save-mark` (no value). */
export interface RuleOption {
  name: string;
  negated: boolean;
  values: string[];
}

/**
 * A match. `module: null` is one generic match (`-p`, `-s`, `-d`, `-i`, `-o`), with exactly one
 * option named by its short flag. Otherwise `-m <module>` and its options; `implicit` when the
 * module was not named (`-p tcp --dport 80` loads `tcp` implicitly; iptables-save prints `-m tcp`).
 */
export interface RuleMatch {
  module: string | null;
  implicit: boolean;
  options: RuleOption[];
}

export interface RuleTarget {
  name: string;
  /** `-g` (goto) instead of `-j`. */
  goto: boolean;
  options: RuleOption[];
}

export interface Rule {
  chain: string;
  /** 1-based position of an `-I CHAIN N` line (`-I CHAIN` without N is position 1); undefined for `-A`. */
  insertAt?: number;
  matches: RuleMatch[];
  target: RuleTarget | null;
  counters?: Counters;
  /** Line in the source text (1-based); not part of the rule's meaning. */
  line?: number;
}

export interface ChainDecl {
  name: string;
  /** `:NAME POLICY [p:b]` (save form; user chains have policy `-`) or `-N NAME` (restore form). */
  style: 'declare' | 'new';
  policy?: string;
  counters?: Counters;
  line?: number;
}

/** One `*table` ... `COMMIT` section, in file order. */
export interface TableSection {
  name: string;
  chains: ChainDecl[];
  rules: Rule[];
  /** Whether the section ended with COMMIT (false for bare rule lines without a header). */
  committed: boolean;
}

export interface RuleSet {
  tables: TableSection[];
}

/** A chain as the kernel holds it after the text was loaded: rules in final order. */
export interface LoadedChain {
  name: string;
  builtin: boolean;
  policy: string;
  rules: Rule[];
}

export type LoadedTables = Map<string, Map<string, LoadedChain>>;
