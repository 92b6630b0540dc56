// The goldens of Istio's istio-iptables tests as checks: current (HEAD) cases and older releases.
// How command-per-line goldens become restore payloads is documented in test/conformance/istio-goldens.test.ts.
import { goldens } from './shared-fixtures.ts';

const TABLE_ORDER = ['filter', 'mangle', 'nat', 'raw'];

export function commandsToRestore(golden: string): { v4: string; v6: string } {
  const fam: Record<'v4' | 'v6', Map<string, { n: string[]; r: string[] }>> = { v4: new Map(), v6: new Map() };
  for (const raw of golden.split('\n')) {
    const line = raw.trim();
    const m = /^(iptables|ip6tables) -t (\S+) (-[NAI]) (.*)$/.exec(line);
    if (!m) {
      if (line === '' || line === 'iptables-save' || line === 'ip6tables-save') continue;
      throw new Error(`unexpected golden line: ${line}`);
    }
    const [, bin, table, op, rest] = m as unknown as [string, string, string, string, string];
    const tables = fam[bin === 'iptables' ? 'v4' : 'v6'];
    const t = tables.get(table) ?? { n: [], r: [] };
    tables.set(table, t);
    const text = `${op} ${rest.replace(/--nflog-prefix "([^"]*)"/g, '--nflog-prefix $1')}`;
    (op === '-N' ? t.n : t.r).push(text);
  }
  const print = (tables: Map<string, { n: string[]; r: string[] }>): string =>
    [...tables.keys()]
      .sort((a, b) => TABLE_ORDER.indexOf(a) - TABLE_ORDER.indexOf(b))
      .map((name) => {
        const t = tables.get(name) as { n: string[]; r: string[] };
        return [`* ${name}`, ...t.n, ...t.r, 'COMMIT'].join('\n');
      })
      .join('\n');
  return { v4: print(fam.v4), v6: print(fam.v6) };
}

/** A 1.24+ golden: leading/trailing `*-save` lines around the v4 payload then the v6 payload. */
export function restoreGoldenToParts(golden: string): { v4: string; v6: string } {
  const blocks: { table: string; text: string }[] = [];
  let cur: string[] | null = null;
  for (const raw of golden.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('* ')) cur = [line];
    else if (cur) {
      cur.push(line);
      if (line === 'COMMIT') {
        blocks.push({ table: (cur[0] as string).slice(2), text: cur.join('\n') });
        cur = null;
      }
    }
  }
  const v4: string[] = [];
  const v6: string[] = [];
  let prev = -1;
  let target = v4;
  for (const b of blocks) {
    const idx = TABLE_ORDER.indexOf(b.table);
    if (idx <= prev) target = v6;
    prev = idx;
    target.push(b.text);
  }
  return { v4: v4.join('\n'), v6: v6.join('\n') };
}

export const trim = (s: string | undefined): string => (s ?? '').split('\n').map((l) => l.trimEnd()).join('\n').trim();

export interface GoldenCheck {
  label: string;
  version: string;
  fields: Record<string, unknown>;
  expected: { v4: string; v6: string };
}


/** Every golden as (config fields, version, expected v4/v6 payloads); see istio-goldens.test.ts for the derivation. */
export function goldenChecks(): GoldenCheck[] {
  const g = goldens();
  const checks: GoldenCheck[] = [];
  for (const c of g.cases) {
    checks.push({ label: `current/${c.name}`, version: 'current', fields: c.effective_config, expected: { v4: c.golden_parts.v4_restore, v6: c.golden_parts.v6_restore ?? '' } });
  }
  for (const [tag, data] of Object.entries(g.historical_goldens.tags)) {
    for (const c of data.cases) {
      const expected = data.golden_format.startsWith('restore') ? restoreGoldenToParts(c.golden) : commandsToRestore(c.golden);
      checks.push({ label: `${tag}/${c.name}`, version: tag, fields: { ...g.base_config_effective, ...c.config }, expected });
    }
  }
  return checks;
}
