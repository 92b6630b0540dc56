// Two runs compared probe by probe (`pathlab report diff A.json B.json`): before and after a mesh
// upgrade, or one Istio version against another. A probe is known by its scenario, its mode and
// its name; what can change is its status, its observed path, its predicted path and its reply.
// What differs between any two runs is left out: durations, timestamps, lab ids, ephemeral
// ports (a peer's 127.0.0.6:41234), the Date header of an HTTP reply. Pure: the CLI reads the
// files and prints what this returns.
import type { ProbeResult, RunReport, ScenarioResult } from '../paths/verdict.ts';
import { ephemeralPorts } from '../paths/ephemeral-ports.ts';
import { lineOps } from '../scenario/line-diff.ts';
import { visibleControls } from '../scenario/text.ts';

/** One run as the diff names it. */
export interface RunSide {
  file: string;
  backend: string;
  startedAt: string;
  pathlab?: string;
  istioVersion?: string;
  /** The Istio versions its scenarios ran as (from each scenario's producedBy). */
  istioVersions: string[];
}

export interface ProbeDelta {
  scenario: string;
  mode: ScenarioResult['mode'];
  /** The probe's name; empty for a scenario that ran no probe (its lab or setup failed, or it was skipped). */
  probe: string;
  /** In both runs, or only in one. */
  in: 'both' | 'a' | 'b';
  status?: { a: string; b: string };
  /** The observed hops of each run (ephemeral parts masked), when they differ. */
  observed?: { a: string[]; b: string[] };
  predicted?: { a: string[]; b: string[] };
  reply?: { a: string | null; b: string | null };
}

export interface ReportDiff {
  a: RunSide;
  b: RunSide;
  /** Probes (and probe-less scenarios) in either run. */
  compared: number;
  same: number;
  /** Probes whose observed path or status changed: `report diff` exits 1 when there is one. */
  changed: number;
  changes: ProbeDelta[];
}

/** Each ephemeral port after an address written as `*`. */
function maskPorts(text: string): string {
  let out = text;
  for (const p of ephemeralPorts(text).reverse()) out = `${out.slice(0, p.start)}*${out.slice(p.end)}`;
  return out;
}

/** A reply as two runs can share it: ephemeral ports masked, an HTTP Date header's value and Envoy's upstream time left out. */
export function stableText(reply: string): string {
  return maskPorts(reply)
    .replace(/^(date:)[^\r\n]*/gim, '$1 *')
    .replace(/^(x-envoy-upstream-service-time:)[^\r\n]*/gim, '$1 *');
}

const hops = (p: ProbeResult | undefined, which: 'observed' | 'predicted'): string[] => (p ? p[which].map(maskPorts) : []);

function sideOf(r: RunReport, file: string): RunSide {
  return {
    file,
    backend: r.backend,
    startedAt: r.startedAt,
    ...(r.pathlab !== undefined ? { pathlab: r.pathlab } : {}),
    ...(r.istioVersion !== undefined ? { istioVersion: r.istioVersion } : {}),
    istioVersions: [...new Set(r.scenarios.flatMap((s) => (s.producedBy?.istioVersion ? [s.producedBy.istioVersion] : [])))],
  };
}

type Entry = { s: ScenarioResult; p?: ProbeResult };

/** Every probe of a run by its key, and each scenario that ran none under `scenario|mode|`. */
function entries(r: RunReport): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const s of r.scenarios) {
    if (s.probes.length === 0) m.set(`${s.name}|${s.mode}|`, { s });
    for (const p of s.probes) m.set(`${s.name}|${s.mode}|${p.probe}`, { s, p });
  }
  return m;
}

const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);

export function diffReports(a: RunReport, b: RunReport, files: { a: string; b: string } = { a: 'A', b: 'B' }): ReportDiff {
  const ea = entries(a);
  const eb = entries(b);
  const keys = [...new Set([...ea.keys(), ...eb.keys()])];
  const changes: ProbeDelta[] = [];
  let changed = 0;
  for (const key of keys) {
    const x = ea.get(key);
    const y = eb.get(key);
    const s = (x ?? y)!.s;
    const base = { scenario: s.name, mode: s.mode, probe: (x ?? y)!.p?.probe ?? '' };
    if (!x || !y) {
      changes.push({ ...base, in: x ? 'a' : 'b' });
      continue;
    }
    const statusA = x.p?.status ?? x.s.status;
    const statusB = y.p?.status ?? y.s.status;
    const d: ProbeDelta = { ...base, in: 'both' };
    if (statusA !== statusB) d.status = { a: statusA, b: statusB };
    const [oa, ob] = [hops(x.p, 'observed'), hops(y.p, 'observed')];
    if (!same(oa, ob)) d.observed = { a: oa, b: ob };
    const [pa, pb] = [hops(x.p, 'predicted'), hops(y.p, 'predicted')];
    if (!same(pa, pb)) d.predicted = { a: pa, b: pb };
    const [ra, rb] = [x.p?.reply, y.p?.reply].map((r) => (r === undefined ? null : stableText(r))) as [string | null, string | null];
    if (ra !== rb) d.reply = { a: ra, b: rb };
    if (d.status || d.observed) changed++;
    if (d.status || d.observed || d.predicted || d.reply) changes.push(d);
  }
  return { a: sideOf(a, files.a), b: sideOf(b, files.b), compared: keys.length, same: keys.length - changes.length, changed, changes };
}

const v = visibleControls;

function sideLine(name: string, s: RunSide): string {
  const istio = s.istioVersion ? `--istio-version ${s.istioVersion}` : s.istioVersions.length ? `Istio ${s.istioVersions.join(', ')}` : undefined;
  return `${name}: ${v(s.file)} (${[s.backend, istio, s.pathlab && `pathlab ${s.pathlab}`, `started ${s.startedAt}`].filter(Boolean).map((x) => v(x!)).join(', ')})`;
}

/** The diff as text: a header line per run, each changed probe with what changed, a summary line. */
export function formatReportDiff(d: ReportDiff): string {
  const out = [sideLine('A', d.a), sideLine('B', d.b), ''];
  for (const c of d.changes) {
    const name = `${v(c.scenario)}${c.mode === 'without-change' ? ' (without its change)' : ''}${c.probe ? ` · ${v(c.probe)}` : ''}`;
    if (c.in !== 'both') {
      out.push(`${c.in === 'a' ? '-' : '+'} ${name}: only in ${c.in === 'a' ? 'A' : 'B'}`);
      continue;
    }
    const what = [c.observed && 'path changed', c.status && `${c.status.a} → ${c.status.b}`, !c.observed && c.predicted && 'predicted path changed', c.reply && 'reply changed'].filter(Boolean);
    out.push(`${c.observed || c.status ? '~' : ' '} ${name}: ${what.join(', ')}`);
    const listDiff = (label: string, x: { a: string[]; b: string[] }) => {
      out.push(`    ${label} (- A, + B):`);
      for (const op of lineOps(x.a, x.b)) out.push(`      ${op.op} ${v(op.text)}`);
    };
    if (c.observed) listDiff('observed', c.observed);
    if (c.predicted) listDiff('predicted', c.predicted);
    if (c.reply) out.push(`    reply: ${c.reply.a === null ? '(none)' : JSON.stringify(c.reply.a.slice(0, 120))} → ${c.reply.b === null ? '(none)' : JSON.stringify(c.reply.b.slice(0, 120))}`);
  }
  if (d.changes.length) out.push('');
  const onlyA = d.changes.filter((c) => c.in === 'a').length;
  const onlyB = d.changes.filter((c) => c.in === 'b').length;
  const other = d.changes.length - d.changed - onlyA - onlyB;
  out.push(`${d.compared} probe${d.compared === 1 ? '' : 's'} compared: ${d.same} the same, ${d.changed} with a changed path or status, ${other} with another change (predicted path, reply), ${onlyA} only in A, ${onlyB} only in B`);
  return `${out.join('\n')}\n`;
}
