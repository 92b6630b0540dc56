// Which scenarios and probes a run takes: `--filter` (a substring of the scenario's name, or a
// glob when it has * ? or [), `--tag` (every tag given), `--probe` (probe names, substring or
// glob; scenarios with none of them are left out, the others keep only those probes). Pure.
import type { LoadedScenario } from '../scenario/loaded.ts';

export interface Selection {
  filter?: string;
  tags?: readonly string[];
  probes?: readonly string[];
}

/** A name pattern: a glob (* ? [..]) matches the whole name; anything else is a substring. */
export function namePattern(pattern: string): (name: string) => boolean {
  if (!/[*?[]/.test(pattern)) return (name) => name.includes(pattern);
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  const rx = new RegExp(`^${re}$`);
  return (name) => rx.test(name);
}

/** The scenarios (and, with `probes`, the probes of each) a selection takes, in their order. */
export function selectScenarios(loaded: readonly LoadedScenario[], sel: Selection): LoadedScenario[] {
  const byName = sel.filter === undefined ? () => true : namePattern(sel.filter);
  const tags = sel.tags ?? [];
  const probeMatchers = (sel.probes ?? []).map(namePattern);
  const out: LoadedScenario[] = [];
  for (const s of loaded) {
    if (!byName(s.scenario.metadata.name)) continue;
    if (!tags.every((t) => (s.scenario.metadata.tags ?? []).includes(t))) continue;
    if (probeMatchers.length === 0) {
      out.push(s);
      continue;
    }
    const keep = s.scenario.probes.map((p, i) => ({ p, i })).filter(({ p }) => probeMatchers.some((m) => m(p.name)));
    if (keep.length === 0) continue;
    out.push({ ...s, scenario: { ...s.scenario, probes: keep.map((k) => k.p) }, expected: keep.map((k) => s.expected[k.i]!) });
  }
  return out;
}

/** What a selection that took nothing asked for, for the error. */
export function selectionWords(sel: Selection): string {
  return [
    sel.filter !== undefined && `--filter ${sel.filter}`,
    ...(sel.tags ?? []).map((t) => `--tag ${t}`),
    ...(sel.probes ?? []).map((p) => `--probe ${p}`),
  ]
    .filter(Boolean)
    .join(' ');
}

/** The key of a scenario's lab definition: scenarios with the same key share one lab. */
export const labKey = (s: LoadedScenario): string => JSON.stringify(s.scenario.lab);

export interface Shard {
  /** From 1 to count. */
  index: number;
  count: number;
}

/** `--shard i/n` read, or undefined when it is not one (i from 1 to n). */
export function parseShard(text: string): Shard | undefined {
  const m = /^([1-9]\d*)\/([1-9]\d*)$/.exec(text);
  if (!m) return undefined;
  const shard = { index: Number(m[1]), count: Number(m[2]) };
  return shard.index <= shard.count ? shard : undefined;
}

/** FNV-1a, 32 bits: the same number for the same text on every machine and run. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/**
 * The scenarios of one shard, in their order. Each lab definition goes whole to one shard (a
 * shard starts each of its labs once), the biggest first to the shard with the fewest scenarios
 * so far, ties broken by the definition's hash: every job of a CI matrix, given the same files
 * and options, computes the same split, on every machine and in every run, and the shards
 * 1/n … n/n together take every scenario once.
 */
export function shardScenarios(scenarios: readonly LoadedScenario[], shard: Shard): LoadedScenario[] {
  const groups = new Map<string, number>();
  for (const s of scenarios) groups.set(labKey(s), (groups.get(labKey(s)) ?? 0) + 1);
  const order = [...groups].map(([key, size]) => ({ key, size, hash: fnv1a(key) })).sort((a, b) => b.size - a.size || a.hash - b.hash || (a.key < b.key ? -1 : 1));
  const load = Array.from({ length: shard.count }, () => 0);
  const mine = new Set<string>();
  for (const g of order) {
    const to = load.indexOf(Math.min(...load));
    load[to]! += g.size;
    if (to === shard.index - 1) mine.add(g.key);
  }
  return scenarios.filter((s) => mine.has(labKey(s)));
}
