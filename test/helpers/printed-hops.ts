// The hops the tools print, read back from what they print (`pathlab explain` text and JSON,
// `pathlab iptables trace`, the console, JSON, JUnit and TAP reports), and the check every one of
// them must pass: pasted into a scenario's expect.path, `pathlab validate` accepts the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { bufferIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import type { RunReport } from '../../src/paths/verdict.ts';
import { repoRoot } from './fixtures.ts';

/** A catalogue scenario whose first probe's expect.path is `hops`, as YAML text. */
export function scenarioWithPath(hops: readonly string[]): string {
  const doc = parseDocument(readFileSync(join(repoRoot, 'scenarios/incident-7000/outage-legacy.yaml'), 'utf8'));
  doc.setIn(['probes', 0, 'expect', 'path'], doc.createNode([...hops]));
  return doc.toString({ lineWidth: 0 });
}

/** `pathlab validate` on a scenario whose expect.path holds `hops`: exit code and what it printed (each rejected hop as FILE:LINE:COL: probes[0].expect.path[i]: why). */
export async function validateHops(hops: readonly string[]): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pathlab-hops-'));
  try {
    const file = join(dir, 'pasted.yaml');
    writeFileSync(file, scenarioWithPath(hops));
    const io = bufferIo();
    const code = await main(['validate', file], io);
    return { code, out: io.stdout() + io.stderr() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The hops of `pathlab explain`: each hop line of the text (`  HOP  reason`: the --json output's
 * `text` of that hop when the line starts with it, else what comes before the first run of two
 * spaces), the hop texts of --json, the `path:` line, and the --json output's `path`.
 */
export function explainHops(text: string, json: string): string[] {
  const j = JSON.parse(json) as { hops: Array<{ text: string }>; path?: string[] };
  const lines = text.split('\n');
  const out: string[] = [];
  j.hops.forEach((h, i) => {
    const line = lines[i + 1] ?? '';
    out.push(line.startsWith(`  ${h.text}  `) ? h.text : line.slice(2).split(/ {2,}/)[0]!, h.text);
  });
  const path = lines.find((l) => l.startsWith('path: '));
  if (path) out.push(path.slice('path: '.length));
  return [...out, ...(j.path ?? [])];
}

/** The hops in a JSON report: every field that holds hops, for every probe. */
export function jsonReportHops(report: RunReport): string[] {
  return report.scenarios.flatMap((s) =>
    s.probes.flatMap((p) => [
      ...p.expected,
      ...p.notExpected,
      ...p.predicted,
      ...p.observed,
      ...p.notExpectedSeen,
      ...p.predictionGaps,
      ...(p.firstDifference ? [p.firstDifference.expected, ...(p.firstDifference.observed === null ? [] : [p.firstDifference.observed])] : []),
      ...p.evidence.flatMap((e) => (e.hop === undefined ? [] : [e.hop])),
    ]),
  );
}

const WHY = '([^:]+)'; // the matcher's "why" has no colon; a hop before it may
const LINE_FORMS: RegExp[] = [
  new RegExp(`first differing hop, expected #\\d+: (.+?) — observed (.+): ${WHY}$`),
  new RegExp(`must-not hop seen: (.+?) \\(observed (.+)\\): ${WHY}$`),
  /must not be on the path, but was: (.+)$/,
  /note: prediction gap \([^)]*\): (.+)$/,
];

/**
 * The hops in the console report's text (also JUnit's failure text): both columns of each hop
 * table row, the first-difference line, must-not hops seen and prediction gaps.
 */
export function consoleHops(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const bar = line.indexOf(' │');
    if (bar >= 0) {
      const left = line.slice(0, bar).replace(/^\s*(▶ )?/, '').trimEnd();
      const right = line.slice(bar + 2).replace(/^ /, '');
      if (left === 'expected' && right === 'observed') continue;
      if (left) out.push(left);
      if (right && right !== '(not observed)') out.push(right);
      continue;
    }
    for (const form of LINE_FORMS) {
      const m = form.exec(line);
      if (!m) continue;
      // The last group of the first two forms is the why; "nothing" and "?" stand for no observed hop.
      const groups = m.slice(1, form.source.endsWith(`${WHY}$`) ? -1 : undefined);
      out.push(...groups.filter((g) => g !== 'nothing' && g !== '?'));
      break;
    }
  }
  return out;
}

const unxml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#10;/g, '\n').replace(/&#13;/g, '\r').replace(/&#9;/g, '\t').replace(/&amp;/g, '&');

/** The hops in a JUnit report: the console's lines in each failure's text. */
export function junitHops(xml: string): string[] {
  return [...xml.matchAll(/<failure [^>]*>([\s\S]*?)<\/failure>/g)].flatMap((m) => consoleHops(unxml(m[1]!)));
}

/** The hops an HTML report draws: each path mark's `data-hop` and `data-expected`, and each must-not cross's `data-hop`. */
export function htmlHops(html: string): string[] {
  return [...html.matchAll(/ data-(?:hop|expected)="([^"]*)"/g)].map((m) => unxml(m[1]!.replace(/&#39;/g, "'")));
}

/** The hops in a TAP report: the hop fields of each failed point's YAML diagnostic. */
export function tapHops(tap: string): string[] {
  const out: string[] = [];
  for (const m of tap.matchAll(/^ {2}---\n([\s\S]*?)^ {2}\.\.\.$/gm)) {
    const d = parseYaml(m[1]!.replace(/^ {2}/gm, '')) as Record<string, unknown>;
    for (const k of ['expected', 'observed', 'notExpected', 'notExpectedSeen', 'predictionGaps']) out.push(...((d[k] as string[] | undefined) ?? []));
    const fd = d.firstDifference as { expected?: string; observed?: string | null } | undefined;
    if (fd?.expected !== undefined) out.push(fd.expected);
    if (typeof fd?.observed === 'string') out.push(fd.observed);
  }
  return out;
}
