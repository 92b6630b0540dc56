// `pathlab run --record`: what a run observed, written back into each probe's `expect` in its
// scenario file, and the diff of every file it changes. A probe whose expectations held keeps
// them as they are (a partial path that matched is the author's choice); the rest is recorded:
// - `path`: written from the observed hops where the probe has none; where it did not hold, each
//   expected hop no observed hop satisfied is replaced by the observed hop of its kind at that
//   place (the others stay as written); when that still would not match, the whole observed path;
// - `notPath`: a hop the run observed is taken out;
// - `outcome` and `reply`, where the probe expects one that did not hold: the observed outcome, and
//   the observed reply (`none` for no bytes, `exact` for an exact one, else `contains` its first line).
// Other expectations (leavesPod, sourceSeenByApp, httpStatus) are named as still failing, never
// guessed. A probe that failed before any observation, or under which a process of the lab died,
// is not written.
//
// The file is edited in place: yaml's Document API finds each node and its source range, and only
// those ranges are rewritten (Document.toString() would re-flow the rest), so comments, key
// order, quoting and layout stay byte-identical outside what changed. The result is checked
// before it is written: it must parse to the intended document and load as a scenario.
// The CLI hands in how to read and write the scenario file: this room reads none itself (only the
// loader's check of the result reads what an applyFile names, as `validate` does).
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, isSeq, parseDocument, stringify, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { expectationProblems, type ProbeFacts } from '../paths/check.ts';
import { ephemeralPorts } from '../paths/ephemeral-ports.ts';
import { formatHop, parseHop, withNames, type Hop } from '../paths/hop.ts';
import { hopMatches, matchPath } from '../paths/path-match.ts';
import type { ProbeResult, ScenarioResult } from '../paths/verdict.ts';
import { loadScenarioText } from '../scenario/loader.ts';
import { formatProblem } from '../scenario/problems.ts';
import type { Probe } from '../scenario/schema.ts';
import { visibleControls } from '../scenario/text.ts';
import { unifiedDiff } from '../scenario/line-diff.ts';
import { MAX_ALIAS_COUNT } from '../scenario/yaml-objects.ts';

/** Why --record cannot go with these options, or undefined when it can. */
export function recordRefusal(o: { checkFault?: boolean; dryRun?: boolean; istioVersion?: string; paths?: readonly string[] }): string | undefined {
  if (o.paths !== undefined && o.paths.length === 0) return '--record rewrites the files it runs: name them (pathlab run --record my-scenarios/); without a path the run is pathlab\'s own catalogue';
  if (o.checkFault) return '--record cannot be used with --check-fault: the run without the fault is meant to fail, and what it observes is not what the file expects (record without --check-fault, then check)';
  if (o.dryRun) return '--record cannot be used with --dry-run: a dry run observes nothing to record';
  if (o.istioVersion !== undefined) return `--record cannot be used with --istio-version: what Istio ${o.istioVersion} does is not what each file's own lab (lab.istio.version) is expected to do`;
  return undefined;
}

/** How --record reads and writes a scenario file: the CLI passes node:fs, a test what it likes. */
export interface ScenarioFileAccess {
  read(file: string): string;
  write(file: string, text: string): void;
}

type ReplyExpectation = NonNullable<Probe['expect']['reply']>;

/** One item of a recorded sequence: an item of the file's (kept, or its scalar replaced), or a new one. */
type SeqItem = { keep: number; value?: string } | { value: string };

/** What --record changes in one probe's `expect`. */
interface ProbePlan {
  probe: string;
  index: number;
  path?: SeqItem[];
  /** Indexes into notPath of the hops to take out. */
  dropNotPath: number[];
  outcome?: string;
  reply?: ReplyExpectation;
}

/** A file whose layout --record does not edit (it says so and leaves the file alone). */
export class RecordLayoutError extends Error {
  override name = 'RecordLayoutError';
}

export interface FileRecording {
  /** The file's new text (the same text when nothing was recorded). */
  text: string;
  /** The probes whose expect changed. */
  recorded: string[];
  /** One line per probe that was not (or not wholly) recorded, and why. */
  notes: string[];
}

/**
 * Records the observations of `results` (the probes of one run of this file's scenario) into
 * the scenario file's text. Throws RecordLayoutError on YAML it does not edit.
 */
export function recordExpectations(text: string, results: readonly ProbeResult[]): FileRecording {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new RecordLayoutError(`the file no longer parses: ${doc.errors[0]!.message}`);
  const probes = doc.get('probes', true);
  if (!isSeq(probes)) throw new RecordLayoutError('the file has no probes sequence');
  const data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as { probes: Array<{ name?: unknown; expect?: Probe['expect'] }> };
  const notes: string[] = [];
  const plans: ProbePlan[] = [];
  for (const p of results) {
    const index = data.probes.findIndex((x) => x.name === p.probe);
    if (index < 0) {
      notes.push(`${visibleControls(p.probe)}: not recorded: the file has no probe of that name now`);
      continue;
    }
    const plan = planProbe(p, index, data.probes[index]!.expect ?? {}, notes);
    if (plan) plans.push(plan);
  }
  if (plans.length === 0) return { text, recorded: [], notes };

  const edits = plans.flatMap((plan) => probeEdits(text, probes.items[plan.index] as YamlNode, plan));
  const out = applyEdits(text, edits);
  // What the new text must say: the old document with the planned changes, nothing else.
  for (const plan of plans) applyPlan(data.probes[plan.index]!.expect!, plan);
  const reread = parseDocument(out, { uniqueKeys: false });
  if (reread.errors.length > 0 || !isDeepStrictEqual(reread.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), data)) {
    throw new RecordLayoutError('editing this layout in place would change more than the recorded fields');
  }
  return { text: out, recorded: plans.map((plan) => plan.probe), notes };
}

/** What to change in one probe's expect, or undefined for nothing (a note says why, where it matters). */
function planProbe(p: ProbeResult, index: number, expect: Probe['expect'], notes: string[]): ProbePlan | undefined {
  const name = visibleControls(p.probe);
  if (p.status === 'skipped') {
    notes.push(`${name}: not recorded: it did not run${p.reason ? ` (${visibleControls(p.reason)})` : ''}`);
    return undefined;
  }
  if (p.observed.length === 0) {
    // A pod-state probe (ss, iptables-save) observes no path: nothing to record when it passed.
    if (p.status === 'failed') notes.push(`${name}: not recorded: it failed before any observation${p.reason ? ` (${visibleControls(p.reason)})` : ''}`);
    return undefined;
  }
  if (labBroke(p)) {
    notes.push(`${name}: not recorded: the lab broke under it, so what it saw is not the path (${visibleControls(p.reason ?? '')})`);
    return undefined;
  }
  let observed: Hop[];
  let expected: Hop[];
  let notExpected: Hop[];
  try {
    // The addresses of the lab hosts the scenario names are written as their names again.
    const names = new Map(Object.entries(p.labHosts ?? {}).map(([ref, ip]) => [ip, ref]));
    observed = p.observed.map((h) => withNames(parseHop(h), names));
    expected = (expect.path ?? []).map((h) => parseHop(h));
    notExpected = (expect.notPath ?? []).map((h) => parseHop(h));
  } catch (e) {
    notes.push(`${name}: not recorded: a hop is not in the path notation: ${visibleControls((e as Error).message)}`);
    return undefined;
  }
  const plan: ProbePlan = { probe: p.probe, index, dropNotPath: [] };
  notExpected.forEach((h, i) => {
    if (observed.some((o) => hopMatches(h, o))) plan.dropNotPath.push(i);
  });
  const keptNot = notExpected.filter((_, i) => !plan.dropNotPath.includes(i));
  // What is written: the observed hops, a reply cut before its first ephemeral port (it matches
  // as a prefix, and would not hold on the next run with the port in it).
  const written = observed.map((h) => formatHop(h.kind === 'reply' ? stableReply(h) : h));
  if (expected.length === 0) plan.path = written.map((value) => ({ value }));
  else {
    const m = matchPath(expected, keptNot, observed);
    if (m.difference) plan.path = recordedPath(m.matched, expected, observed, written, keptNot);
  }
  if (p.status === 'passed') return plan.path || plan.dropNotPath.length > 0 ? plan : undefined;

  // Outcome and reply, where the probe expects one: the same check the run made, on what it saw
  // (asked of a failed probe only: the report keeps the first 200 characters of the reply).
  const facts: ProbeFacts = { reading: { body: p.reply ?? '' }, outcome: (p.outcome ?? '') as ProbeFacts['outcome'], target: { ip: '', port: 0 }, syns: [], control: { ip: '', port: 0 } };
  const own = { ...(expect.outcome !== undefined ? { outcome: expect.outcome } : {}), ...(expect.reply !== undefined ? { reply: expect.reply } : {}) };
  if (expect.outcome !== undefined && p.outcome !== undefined && p.outcome !== expect.outcome) plan.outcome = p.outcome;
  if (expect.reply !== undefined && p.reply !== undefined && expectationProblems({ reply: expect.reply }, facts).length > 0) plan.reply = replyOf(p.reply, expect.reply);
  // What failed that --record does not write: named, for the author to decide.
  const handled = p.reply !== undefined && p.outcome !== undefined ? expectationProblems(own, facts) : [];
  const other = (p.evidence.find((e) => e.source === 'expectations')?.lines ?? []).filter((l) => !handled.includes(l));
  for (const line of other) notes.push(`${name}: still fails, not recorded (--record writes path, notPath, outcome and reply): ${visibleControls(line)}`);

  const changed = plan.path !== undefined || plan.dropNotPath.length > 0 || plan.outcome !== undefined || plan.reply !== undefined;
  return changed ? plan : undefined;
}

/**
 * Whether a process of the lab died under the probe (a sidecar, the app, the server): the runner
 * (probe.ts, verdict) then gives that as the reason, ahead of the path's difference and of the
 * expectations' problems, which it would otherwise name.
 */
function labBroke(p: ProbeResult): boolean {
  if (p.status !== 'failed' || p.reason === undefined) return false;
  const fd = p.firstDifference;
  if (fd) return !p.reason.startsWith(`${fd.why}: `);
  const problems = p.evidence.find((e) => e.source === 'expectations')?.lines ?? [];
  return p.reason !== problems.join('; ');
}

/**
 * The path to write where the expected one did not hold: each expected hop no observed hop
 * satisfied replaced by the first observed hop of its kind between its neighbours' matches;
 * where there is none, or that still does not match, the whole observed path.
 */
function recordedPath(matched: ReadonlyArray<number | null>, expected: Hop[], observed: Hop[], observedText: readonly string[], notExpected: Hop[]): SeqItem[] {
  const whole = observedText.map((value) => ({ value }));
  const items: SeqItem[] = [];
  const hops: Hop[] = [];
  let last = -1;
  for (const [i, want] of expected.entries()) {
    const k = matched[i];
    if (k !== null && k !== undefined) {
      items.push({ keep: i });
      hops.push(want);
      last = k;
      continue;
    }
    const next = matched.slice(i + 1).find((x): x is number => x !== null) ?? observed.length;
    let j = last + 1;
    while (j < next && observed[j]!.kind !== want.kind) j++;
    if (j >= next) return whole;
    items.push({ keep: i, value: observedText[j]! });
    hops.push(observed[j]!);
    last = j;
  }
  return matchPath(hops, notExpected, observed).difference ? whole : items;
}

/** The reply expectation that holds for what was read. */
function replyOf(body: string, was: ReplyExpectation): ReplyExpectation {
  if (body.length === 0) return { none: true };
  // The report keeps the first 200 characters: an exact reply only when it is shorter.
  if (was.exact !== undefined && body.length < 200) return { exact: body };
  return { contains: body.split(/\r\n|\r|\n/).find((l) => l.length > 0) ?? body };
}

/** The plan applied to the plain data, as the edited file must read. */
function applyPlan(expect: Probe['expect'], plan: ProbePlan): void {
  if (plan.path) {
    const old = expect.path ?? [];
    expect.path = plan.path.map((it) => ('keep' in it ? (it.value ?? old[it.keep]!) : it.value));
  }
  if (plan.dropNotPath.length > 0) {
    const rest = (expect.notPath ?? []).filter((_, i) => !plan.dropNotPath.includes(i));
    if (rest.length > 0) expect.notPath = rest;
    else delete expect.notPath;
  }
  if (plan.outcome !== undefined) expect.outcome = plan.outcome as Probe['expect']['outcome'];
  if (plan.reply !== undefined) expect.reply = plan.reply;
}

// ---- editing the text in place ----

interface Edit {
  start: number;
  end: number;
  text: string;
}

const rangeOf = (n: YamlNode): [number, number, number] => {
  if (!n.range) throw new RecordLayoutError('a node without a source position');
  return n.range;
};
const lineStart = (src: string, at: number): number => src.lastIndexOf('\n', at - 1) + 1;
/** The offset after the end of the line `at` is on (after its newline), or the end of the text. */
const lineEnd = (src: string, at: number): number => {
  const nl = src.indexOf('\n', at);
  return nl < 0 ? src.length : nl + 1;
};
const eolOf = (src: string): string => (src.includes('\r\n') ? '\r\n' : '\n');
/** The end of a value's lines: a block collection ends at a line start already. */
const valueLinesEnd = (src: string, n: YamlNode): number => {
  const end = rangeOf(n)[1];
  return end > 0 && src[end - 1] === '\n' ? end : lineEnd(src, end);
};

/** A string as a YAML scalar in the style of the one it replaces: plain when yaml itself would write it plain, else quoted. */
function renderScalar(value: string | boolean, like: Scalar['type'], inFlow: boolean): string {
  if (typeof value === 'boolean') return String(value);
  if (like === 'QUOTE_SINGLE' && !/[\p{Cc}\u2028\u2029]/u.test(value)) return `'${value.replace(/'/g, "''")}'`;
  if ((like === undefined || like === 'PLAIN') && !(inFlow && /[,[\]{}]/.test(value)) && stringify(value, { lineWidth: 0 }) === `${value}\n`) return value;
  // JSON's string syntax is YAML's double-quoted scalar; the controls JSON leaves raw are escaped too.
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Replaces a scalar's text, keeping the newline a block scalar's range ends with. */
function scalarEdit(src: string, node: YamlNode, value: string | boolean, inFlow: boolean): Edit {
  const [start, end] = rangeOf(node);
  const type = isScalar(node) ? node.type : undefined;
  const block = type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED';
  const keep = /(\r?\n)+$/.exec(src.slice(start, end))?.[0] ?? '';
  return { start, end, text: renderScalar(value, block ? 'QUOTE_DOUBLE' : type, inFlow) + keep };
}

const pairOf = (map: YAMLMap, key: string): Pair<YamlNode, YamlNode | null> | undefined =>
  (map.items as Array<Pair<YamlNode, YamlNode | null>>).find((p) => isScalar(p.key) && p.key.value === key);

/** The column of a block map's keys, as spaces. */
function keyIndent(src: string, map: YAMLMap): string {
  const first = (map.items[0] as Pair<YamlNode>).key;
  const at = rangeOf(first)[0];
  return ' '.repeat(at - lineStart(src, at));
}

function probeEdits(src: string, probe: YamlNode, plan: ProbePlan): Edit[] {
  if (!isMap(probe)) throw new RecordLayoutError('a probe that is not a mapping');
  const expect = probe.get('expect', true);
  if (!isMap(expect) || expect.items.length === 0) throw new RecordLayoutError('a probe whose expect is not a mapping');
  const edits: Edit[] = [];
  if (plan.outcome !== undefined) {
    const node = expect.get('outcome', true);
    if (!node) throw new RecordLayoutError('expect.outcome has no node');
    edits.push(scalarEdit(src, node as YamlNode, plan.outcome, expect.flow === true));
  }
  if (plan.reply !== undefined) edits.push(...replyEdits(src, expect, plan.reply));
  if (plan.path !== undefined) edits.push(...seqEdits(src, expect, 'path', plan.path));
  if (plan.dropNotPath.length > 0) {
    const node = expect.get('notPath', true);
    if (!isSeq(node)) throw new RecordLayoutError('expect.notPath is not a sequence');
    const rest = node.items.map((_, i) => i).filter((i) => !plan.dropNotPath.includes(i));
    edits.push(...seqEdits(src, expect, 'notPath', rest.map((keep) => ({ keep }))));
  }
  return edits;
}

/** The reply's one form (exact, contains, pattern, none) and its value, each scalar rewritten in place. */
function replyEdits(src: string, expect: YAMLMap, reply: ReplyExpectation): Edit[] {
  const node = expect.get('reply', true);
  if (!isMap(node) || node.items.length !== 1) throw new RecordLayoutError('expect.reply is not a mapping of one form');
  const pair = node.items[0] as Pair<YamlNode, YamlNode | null>;
  const [key, value] = Object.entries(reply)[0] as [string, string | boolean];
  const inFlow = node.flow === true || expect.flow === true;
  const edits: Edit[] = [];
  if (!isScalar(pair.key) || pair.key.value !== key) edits.push(scalarEdit(src, pair.key, key, inFlow));
  if (!pair.value) throw new RecordLayoutError('expect.reply has no value');
  edits.push(scalarEdit(src, pair.value, value, inFlow));
  return edits;
}

/**
 * Rewrites the sequence at `expect[key]` to `items`: kept items keep their lines (and comments),
 * replaced ones only their scalar; a missing key is added after the last one; an emptied
 * sequence's key is taken out.
 */
function seqEdits(src: string, expect: YAMLMap, key: string, items: SeqItem[]): Edit[] {
  const eol = eolOf(src);
  const pair = pairOf(expect, key);
  const flowMap = expect.flow === true;
  const valueOf = (it: SeqItem): string => ('keep' in it ? it.value! : it.value);

  if (!pair) {
    if (items.length === 0) return [];
    const last = expect.items.at(-1) as Pair<YamlNode, YamlNode | null>;
    const lastNode = last.value ?? last.key;
    if (flowMap) {
      const list = items.map((it) => renderScalar(valueOf(it), 'PLAIN', true)).join(', ');
      const at = rangeOf(lastNode)[1];
      return [{ start: at, end: at, text: `, ${key}: [${list}]` }];
    }
    const indent = keyIndent(src, expect);
    const at = valueLinesEnd(src, lastNode);
    const lines = items.map((it) => `${indent}  - ${renderScalar(valueOf(it), 'PLAIN', false)}${eol}`).join('');
    return [{ start: at, end: at, text: `${at === src.length && !src.endsWith('\n') ? eol : ''}${indent}${key}:${eol}${lines}` }];
  }

  const seq = pair.value;
  if (!isSeq(seq)) throw new RecordLayoutError(`expect.${key} is not a sequence`);
  if (items.length === 0) {
    // The key goes, with its value.
    if (flowMap) {
      const i = expect.items.indexOf(pair as never);
      const prev = expect.items[i - 1] as Pair<YamlNode, YamlNode | null> | undefined;
      const next = expect.items[i + 1] as Pair<YamlNode> | undefined;
      if (prev) return [{ start: rangeOf(prev.value ?? prev.key)[1], end: rangeOf(seq)[1], text: '' }];
      if (next) return [{ start: rangeOf(pair.key)[0], end: rangeOf(next.key)[0], text: '' }];
      throw new RecordLayoutError(`expect would be empty without ${key}`);
    }
    const start = lineStart(src, rangeOf(pair.key)[0]);
    if (src.slice(start, rangeOf(pair.key)[0]).trim() !== '') throw new RecordLayoutError(`expect.${key} does not start its line`);
    return [{ start, end: valueLinesEnd(src, seq), text: '' }];
  }

  const nodes = seq.items as YamlNode[];
  if (seq.flow || nodes.length === 0) {
    // `path: []` under a block mapping becomes a block sequence: hops are long.
    if (nodes.length === 0 && !flowMap) {
      const colon = src.indexOf(':', rangeOf(pair.key)[1]);
      const indent = `${keyIndent(src, expect)}  - `;
      const lines = items.map((it) => `${eol}${indent}${renderScalar(valueOf(it), 'PLAIN', false)}`).join('');
      return [{ start: colon + 1, end: rangeOf(seq)[1], text: lines }];
    }
    const [start, end] = rangeOf(seq);
    const pad = nodes.length > 0 && /^\[[ \t]/.test(src.slice(start, end)) ? ' ' : '';
    const texts = items.map((it) => {
      if (!('keep' in it)) return renderScalar(it.value, 'PLAIN', true);
      const node = nodes[it.keep]!;
      if (it.value === undefined) return src.slice(rangeOf(node)[0], rangeOf(node)[1]);
      return scalarEdit(src, node, it.value, true).text;
    });
    return [{ start, end, text: `[${pad}${texts.join(', ')}${pad}]` }];
  }

  // A block sequence: each item's lines run from its line start to the next item's.
  const starts = nodes.map((n) => {
    const at = rangeOf(n)[0];
    const s = lineStart(src, at);
    if (!/^[ \t]*-[ \t]+$/.test(src.slice(s, at))) throw new RecordLayoutError(`an item of expect.${key} does not start its own line`);
    return s;
  });
  const regionStart = starts[0]!;
  const regionEnd = lineEnd(src, rangeOf(nodes.at(-1)!)[1]);
  const prefix = src.slice(regionStart, rangeOf(nodes[0]!)[0]);
  const spans = nodes.map((n, i) => {
    const s = starts[i]!;
    const e = starts[i + 1] ?? regionEnd;
    const text = src.slice(s, e);
    return text.endsWith('\n') ? text : `${text}${eol}`;
  });
  let out = items
    .map((it) => {
      if (!('keep' in it)) return `${prefix}${renderScalar(it.value, 'PLAIN', false)}${eol}`;
      const span = spans[it.keep]!;
      if (it.value === undefined) return span;
      const node = nodes[it.keep]!;
      const edit = scalarEdit(src, node, it.value, false);
      const s = starts[it.keep]!;
      return span.slice(0, edit.start - s) + edit.text + span.slice(edit.end - s);
    })
    .join('');
  if (!src.slice(regionStart, regionEnd).endsWith('\n')) out = out.slice(0, out.length - eol.length);
  return [{ start: regionStart, end: regionEnd, text: out }];
}

function applyEdits(src: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = src;
  let floor = Infinity;
  for (const e of sorted) {
    if (e.end > floor) throw new RecordLayoutError('two recorded fields overlap in the file');
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    floor = e.start;
  }
  return out;
}

// ---- a run's recording ----

/**
 * Records every scenario result of a run into its file: the diff of each file it changes and a
 * line per file ("recorded N probe(s) in FILE" or "FILE unchanged"), with a line per probe that
 * was not recorded. A file whose new text would not load as a scenario is not written.
 */
export function recordRun(results: readonly ScenarioResult[], files: ScenarioFileAccess, opts: { interrupted?: boolean } = {}): string {
  if (opts.interrupted) return '--record: the run was interrupted; no file was written\n';
  const out: string[] = [];
  const byFile = new Map<string, ScenarioResult[]>();
  for (const r of results) if (r.mode === 'with-setup') byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  for (const [file, runs] of byFile) {
    const shown = visibleControls(file);
    const probes = runs.flatMap((r) => r.probes);
    if (probes.length === 0) {
      const why = runs.map((r) => r.reason).filter(Boolean).join('; ');
      out.push(`${shown} unchanged: no probe ran${why ? ` (${visibleControls(why)})` : ''}`);
      continue;
    }
    let before: string;
    let rec: FileRecording;
    try {
      before = files.read(file);
      rec = recordExpectations(before, probes);
    } catch (e) {
      out.push(`${shown} unchanged: not recorded: ${visibleControls((e as Error).message)}`);
      continue;
    }
    if (rec.text === before) out.push(`${shown} unchanged`);
    else {
      const loaded = loadScenarioText(rec.text, file, dirname(resolve(file)));
      if (!loaded.ok) {
        out.push(`${shown} unchanged: not written, the recorded file would not load:`, ...loaded.problems.map((p) => `  ${formatProblem(p)}`));
      } else {
        try {
          files.write(file, rec.text);
          out.push(unifiedDiff(before, rec.text, shown).trimEnd(), `recorded ${rec.recorded.length} probe(s) in ${shown}`);
        } catch (e) {
          out.push(`${shown} unchanged: cannot write it: ${visibleControls((e as Error).message)}`);
        }
      }
    }
    out.push(...rec.notes.map((n) => `  ${n}`));
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * A reply hop without what changes from run to run: cut before the first port of the kernel's
 * ephemeral range (32768-60999, Linux's default ip_local_port_range) that follows an address,
 * e.g. `peer 127.0.0.6:59037`, keeping the address and the colon.
 */
export function stableReply(h: Extract<Hop, { kind: 'reply' }>): Extract<Hop, { kind: 'reply' }> {
  const first = h.closed ? undefined : ephemeralPorts(h.text)[0];
  return first ? { kind: 'reply', text: h.text.slice(0, first.start) } : h;
}
