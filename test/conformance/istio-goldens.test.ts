// Every golden of Istio's own istio-iptables tests, reproduced by renderIstioIptables.
//
// Comparison, per format:
// - current (HEAD) cases and 1.24.6: the goldens are the restore payloads themselves; ours must be
//   identical line for line (whitespace at the ends trimmed, as Istio's own Compare does).
// - 1.14.3, 1.17.8, 1.18.7, 1.22.8, 1.23.6: Istio recorded one command per line
//   (`iptables -t nat -A ISTIO_OUTPUT ...`). The same rules in restore form are obtained mechanically:
//   per family (`iptables` / `ip6tables`), per table (tables in name order), the `-N` lines in the
//   order recorded, then the `-A`/`-I` lines in the order recorded, each table closed by COMMIT.
//   The only other change is the shell quoting of NFLOG prefixes (`"InboundCapture"` → InboundCapture),
//   which the stub recorded for the command form and the restore form never had (see 1.24.6 `logging`).
//   The `iptables-save` / `ip6tables-save` lines the stub logged are state dumps, not rules, and are skipped.
import test from 'ava';
import { configFromFields } from '../../src/mesh/iptables/istio-iptables-config.ts';
import { renderIstioIptables } from '../../src/mesh/iptables/render-istio-iptables.ts';
import { goldens } from '../helpers/shared-fixtures.ts';

const TABLE_ORDER = ['filter', 'mangle', 'nat', 'raw'];

function commandsToRestore(golden: string): { v4: string; v6: string } {
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
function restoreGoldenToParts(golden: string): { v4: string; v6: string } {
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

const trim = (s: string | undefined): string => (s ?? '').split('\n').map((l) => l.trimEnd()).join('\n').trim();

interface Check {
  label: string;
  version: string;
  fields: Record<string, unknown>;
  expected: { v4: string; v6: string };
}

const g = goldens();
const checks: Check[] = [];
for (const c of g.cases) {
  checks.push({ label: `current/${c.name}`, version: 'current', fields: c.effective_config, expected: { v4: c.golden_parts.v4_restore, v6: c.golden_parts.v6_restore ?? '' } });
}
for (const [tag, data] of Object.entries(g.historical_goldens.tags)) {
  for (const c of data.cases) {
    const expected = data.golden_format.startsWith('restore') ? restoreGoldenToParts(c.golden) : commandsToRestore(c.golden);
    checks.push({ label: `${tag}/${c.name}`, version: tag, fields: { ...g.base_config_effective, ...c.config }, expected });
  }
}

let reproduced = 0;
for (const c of checks) {
  test.serial(`golden ${c.label}`, (t) => {
    const out = renderIstioIptables(configFromFields(c.fields), c.version);
    t.is(trim(out.ipv4.payload), trim(c.expected.v4), 'IPv4 payload');
    t.is(trim(out.ipv6?.payload), trim(c.expected.v6), 'IPv6 payload');
    reproduced++;
  });
}

test.after.always('reproduced N of N', (t) => {
  const line = `reproduced ${reproduced} of ${checks.length} Istio goldens (${g.cases.length} current, ${checks.length - g.cases.length} historical)`;
  t.log(line);
  console.log(line);
});

test.serial('the golden set is complete: 27 current cases and six historical releases', (t) => {
  t.is(g.cases.length, 27);
  t.deepEqual(Object.keys(g.historical_goldens.tags).sort(), ['1.14.3', '1.17.8', '1.18.7', '1.22.8', '1.23.6', '1.24.6']);
});
