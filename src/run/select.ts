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
