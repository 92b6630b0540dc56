// Loads scenario files: YAML with exact positions, validated against the schema and the
// cross-field checks, every problem of a file reported at once. Hostile input (alias bombs,
// huge or binary files, directories, missing paths) gets a clear problem, never a hang.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  LineCounter,
  parseAllDocuments,
  visit,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { LabCaptureSchema, LabFileSchema, LabRefSchema, ScenarioSchema, type LabFile, type LabSpec, type Scenario } from './schema.ts';
import { checkLab, crossCheck, type FieldProblem } from './cross-checks.ts';
import { captureLab } from './capture-lab.ts';
import { fileKind } from './collect.ts';
import { describeIssue } from './issue-messages.ts';
import { loadedScenario, type LoadedScenario } from './loaded.ts';
import { readChecked, UnreadableFile } from './files.ts';
import { duplicateKeyOffsets, MAX_ALIAS_COUNT } from './yaml-objects.ts';
import { formatFieldPath, sortProblems, type FieldPath, type ScenarioProblem } from './problems.ts';

/** Scenario files larger than this are refused before parsing. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;
export { MAX_ALIAS_COUNT };

export interface LoadOptions {
  /** Also accept a `kind: Lab` document (pathlab lab up --lab FILE). */
  allowLab?: boolean;
}

type Located = {
  /** Line and column of a field of the file, for problems found later (a duplicate name). */
  positionOf(path: FieldPath): { line: number; col: number };
};
type Failed = { ok: false; file: string; problems: ScenarioProblem[] };

export type LoadResult = (LoadedScenario & { ok: true } & Located) | Failed;
/** A scenario or, where allowed, a Lab file. */
export type DocumentResult = LoadResult | ({ ok: true; file: string; lab: LabFile } & Located);

/** Loads one scenario file from disk. `display` is the name used in problems (default: path). */
export function loadScenarioFile(path: string, display = path): LoadResult {
  return loadDocumentFile(path, display, {}) as LoadResult;
}

/** Loads a scenario file, or a Lab file when `opts.allowLab`. */
export function loadDocumentFile(path: string, display = path, opts: LoadOptions = {}): DocumentResult {
  const fileProblem = (message: string): DocumentResult => ({
    ok: false,
    file: display,
    problems: [{ file: display, line: 1, col: 1, field: '(file)', message }],
  });
  let bytes: Buffer;
  try {
    // One descriptor, checked, then read: a link must stay in its own folder (`validate
    // link-to-/etc/shadow` reads nothing), and a FIFO or a device is never read.
    bytes = readChecked(path, { folder: dirname(resolve(path)), max: MAX_SCENARIO_BYTES });
  } catch (e) {
    if (!(e instanceof UnreadableFile)) return fileProblem(`cannot read: ${(e as Error).message}`);
    if (e.reason === 'directory') return fileProblem('is a directory (expected a scenario file)');
    if (e.reason === 'special') return fileProblem('is not a regular file');
    if (e.reason === 'size') return fileProblem(`file is ${e.size ?? 'more than'} bytes; a scenario file may have at most ${MAX_SCENARIO_BYTES}`);
    return fileProblem(e.message);
  }
  return loadScenarioBytes(bytes, display, dirname(resolve(path)), opts);
}

/** Loads a scenario from bytes; `baseDir` resolves `applyFile` paths. */
export function loadScenarioBytes(bytes: Uint8Array, file: string, baseDir: string, opts: LoadOptions = {}): DocumentResult {
  const nul = bytes.indexOf(0);
  let text: string;
  try {
    if (nul !== -1) throw new Error('NUL');
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = nul !== -1 ? nul : firstInvalidUtf8(bytes);
    const prefix = new TextDecoder('utf-8').decode(bytes.subarray(0, at));
    const lines = prefix.split('\n');
    return {
      ok: false,
      file,
      problems: [
        {
          file,
          line: lines.length,
          col: (lines.at(-1)?.length ?? 0) + 1,
          field: '(file)',
          message: `not a text file: ${nul !== -1 ? 'NUL byte' : 'invalid UTF-8'} at byte ${at} (expected YAML)`,
        },
      ],
    };
  }
  return loadDocumentText(text, file, baseDir, opts);
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    try {
      dec.decode(bytes.subarray(i, i + len));
    } catch {
      return i;
    }
    i += len;
  }
  return bytes.length;
}

/** Loads a scenario from YAML text. */
export function loadScenarioText(text: string, file: string, baseDir: string): LoadResult {
  return loadDocumentText(text, file, baseDir, {}) as LoadResult;
}

/** Loads YAML text as a scenario, or a Lab when `opts.allowLab`. */
export function loadDocumentText(text: string, file: string, baseDir: string, opts: LoadOptions = {}): DocumentResult {
  const lc = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return { line, col };
  };
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // Duplicate keys are found below, in one pass: yaml's own check compares every pair of keys
    // of a mapping (100,000 keys took 50 s).
    docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  } catch (e) {
    const message = e instanceof RangeError ? 'the document is nested too deeply to read' : (e as Error).message;
    return { ok: false, file, problems: [{ file, line: 1, col: 1, field: '(yaml)', message }] };
  }
  const problems: ScenarioProblem[] = [];
  if (!Array.isArray(docs) || docs.length === 0) {
    return {
      ok: false,
      file,
      problems: [{ file, line: 1, col: 1, field: '(document)', message: 'the file is empty (expected a Scenario)' }],
    };
  }
  for (const d of docs.slice(1)) {
    const offset = d.range?.[0] ?? 0;
    problems.push({
      file,
      ...at(offset),
      field: '(document)',
      message: 'a scenario file holds one YAML document; found another one here',
    });
  }
  const doc = docs[0]!;
  for (const e of doc.errors) {
    if (e.code === 'MISSING_CHAR' && /quote/.test(e.message)) {
      // yaml reports an unclosed quote at the end of the file; point at where it opened.
      const opened = unclosedQuoteOffset(text);
      problems.push({
        file,
        ...at(opened ?? e.pos[0]),
        field: '(yaml)',
        message: opened === undefined ? 'missing closing quote' : 'this quoted string is never closed',
      });
      continue;
    }
    const message = /call stack/i.test(e.message)
      ? 'the document is nested too deeply to read'
      : e.message.replace(/\s+/g, ' ').trim();
    problems.push({ file, ...at(e.pos[0]), field: '(yaml)', message });
  }
  for (const offset of duplicateKeyOffsets(doc)) {
    const key = /^[^:\n]*/.exec(text.slice(offset))?.[0].trim();
    problems.push({ file, ...at(offset), field: '(yaml)', message: `the key "${key}" appears twice in the same mapping` });
  }
  if (problems.length > 0) return { ok: false, file, problems: sortProblems(problems) };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const aliasAt = firstAliasOffset(doc);
    const msg = (e as Error).message.startsWith('Excessive alias count')
      ? `too many alias expansions (more than ${MAX_ALIAS_COUNT}): refusing a YAML alias bomb`
      : e instanceof RangeError
        ? 'the document is nested too deeply to read'
        : (e as Error).message;
    return { ok: false, file, problems: [{ file, ...at(aliasAt), field: '(yaml)', message: msg }] };
  }
  if (data === null || data === undefined) {
    return {
      ok: false,
      file,
      problems: [{ file, line: 1, col: 1, field: '(document)', message: 'the file is empty (expected a Scenario)' }],
    };
  }

  const locate = (path: FieldPath, offsetInValue = 0, atKey = false) => {
    const { offset, quoted } = nodeOffset(doc, path, atKey);
    return at(offset + (offsetInValue > 0 ? offsetInValue + (quoted ? 1 : 0) : 0));
  };
  const add = (fp: FieldProblem) =>
    problems.push({ file, ...locate(fp.path, fp.offset, fp.atKey), field: formatFieldPath(fp.path), message: fp.message });

  const kind = (data as { kind?: unknown }).kind === 'Lab' && opts.allowLab ? 'Lab' : 'Scenario';
  // A scenario's lab by reference (lab.file): the Lab file's lab with the scenario's additions,
  // checked below as if it were written inline. The Lab file's own problems are its own.
  const ref = kind === 'Scenario' ? labReference(data) : undefined;
  if (ref) {
    // The reference itself first (its additions are checked again once merged, as the lab).
    const refCheck = LabRefSchema.safeParse(ref);
    if (!refCheck.success) {
      for (const issue of refCheck.error.issues) for (const fp of describeIssue(issue, ref, LabRefSchema)) add({ ...fp, path: ['lab', ...fp.path] });
      return { ok: false, file, problems: sortProblems(dedupe(problems)) };
    }
    if (isAbsolute(ref.file)) {
      add({ path: ['lab', 'file'], message: `${ref.file}: a Lab file is named relative to the scenario's folder` });
      return { ok: false, file, problems: sortProblems(problems) };
    }
    const labPath = resolve(baseDir, ref.file);
    // Only a pathlab file is read as a Lab (a Scenario is told apart below): any other file is
    // named, its contents never shown. An unreadable one: loadDocumentFile says why.
    const kind = fileKind(labPath);
    if (kind === 'other' || kind === 'mesh' || (kind === 'unsure' && existsSync(labPath))) {
      add({ path: ['lab', 'file'], message: `${ref.file} is not a pathlab/v1 Lab file (apiVersion: pathlab/v1, kind: Lab)` });
      return { ok: false, file, problems: sortProblems(problems) };
    }
    const r = loadDocumentFile(labPath, join(dirname(file), ref.file), { allowLab: true });
    if (!r.ok) return { ok: false, file, problems: r.problems };
    if (!('lab' in r)) {
      add({ path: ['lab', 'file'], message: `${ref.file} is a Scenario, not a Lab file (kind: Lab)` });
      return { ok: false, file, problems: sortProblems(problems) };
    }
    (data as { lab: unknown }).lab = withAdditions(r.lab.lab, ref);
  }
  // A scenario's lab from a capture folder (lab.capture): the captured pod and the scenario's hosts.
  const captured = kind === 'Scenario' && !ref ? captureReference(data) : undefined;
  if (captured) {
    const refCheck = LabCaptureSchema.safeParse(captured);
    if (!refCheck.success) {
      for (const issue of refCheck.error.issues) for (const fp of describeIssue(issue, captured, LabCaptureSchema)) add({ ...fp, path: ['lab', ...fp.path] });
      return { ok: false, file, problems: sortProblems(dedupe(problems)) };
    }
    // The Services the probes name: their endpoints get the lab's hosts first.
    const probes = (data as { probes?: unknown }).probes;
    const probeHosts = Array.isArray(probes) ? probes.flatMap((p) => (typeof (p as { target?: { host?: unknown } })?.target?.host === 'string' ? [(p as { target: { host: string } }).target.host] : [])) : [];
    const r = captureLab(refCheck.data, baseDir, probeHosts);
    if ('problems' in r) {
      for (const p of r.problems) add({ path: ['lab', p.field], message: p.message });
      return { ok: false, file, problems: sortProblems(problems) };
    }
    (data as { lab: unknown }).lab = r.lab;
  }
  const schema = kind === 'Lab' ? LabFileSchema : ScenarioSchema;
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const fp of describeIssue(issue, data, schema)) add(fp);
    }
    // The cross-field checks too, in the same pass, as far as the data lets them go: a field
    // the schema refused may stop them (they read a valid document), and then its problem is
    // already reported.
    // A cross-field problem of an item (a probe, a setup step, a pod) the schema already refused
    // is left out: it would most often follow from that problem (an unknown tool "takes no target").
    const itemOf = (path: FieldPath) => {
      const i = path.findIndex((x) => typeof x === 'number');
      return JSON.stringify(i >= 0 ? path.slice(0, i + 1) : path.slice(0, 2));
    };
    const refused = new Set(parsed.error.issues.map((issue) => itemOf(issue.path.filter((x): x is string | number => typeof x !== 'symbol'))));
    try {
      for (const fp of crossChecks(kind, data, baseDir, new Map())) if (!refused.has(itemOf(fp.path))) add(fp);
    } catch {
      // the document is too far from the format for the cross-field checks: the schema's problems say why
    }
    return { ok: false, file, problems: sortProblems(dedupe(problems)) };
  }
  const files = new Map<string, string>();
  for (const fp of crossChecks(kind, parsed.data, baseDir, files)) add(fp);
  if (problems.length > 0) return { ok: false, file, problems: sortProblems(problems) };
  if (kind === 'Lab') return { ok: true, file, lab: parsed.data as LabFile, positionOf: (path) => locate(path) };
  const scenario = parsed.data as Scenario;
  return { ok: true, ...loadedScenario(file, scenario, Object.fromEntries(files)), positionOf: (path) => locate(path) };
}

/** The cross-field checks of a Lab file's lab or of a Scenario (which reads the files its setup names into `files`). */
function crossChecks(kind: 'Lab' | 'Scenario', data: unknown, baseDir: string, files: Map<string, string>): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (kind === 'Lab') checkLab((data as LabFile).lab, ['lab'], (path, message, extra) => out.push({ path, message, ...extra }));
  else out.push(...crossCheck(data as Scenario, { baseDir, files }));
  return out;
}

/**
 * The offset of the first quote that opens a scalar and is not closed on its line (a
 * multi-line quoted scalar is legal YAML, so this is only asked once yaml said a quote
 * never closed).
 */
function unclosedQuoteOffset(text: string): number | undefined {
  let lineStart = 0;
  for (const line of text.split('\n')) {
    const m = /^(?:[^#"']*?(?::\s+|-\s+|\[|,\s*))?(["'])/.exec(line);
    if (m && m[1] !== undefined) {
      const q = m[1];
      const open = m[0].length - 1;
      let closed = false;
      for (let i = open + 1; i < line.length; i++) {
        if (q === '"' && line[i] === '\\') i++;
        else if (line[i] === q) {
          if (q === "'" && line[i + 1] === "'") i++;
          else {
            closed = true;
            break;
          }
        }
      }
      if (!closed) return lineStart + open;
    }
    lineStart += line.length + 1;
  }
  return undefined;
}

/** Each mapping's pairs by key, built once per mapping: locating 100,000 problems stays linear. */
const pairIndex = new WeakMap<object, Map<unknown, unknown>>();
function pairOf(map: { items: unknown[] }, key: string | number): unknown {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) if (isPair(p) && isScalar(p.key) && !index.has(p.key.value)) index.set(p.key.value, p);
    pairIndex.set(map, index);
  }
  return index.get(key);
}

function dedupe(problems: ScenarioProblem[]): ScenarioProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.col}:${p.field}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_, node) {
      if (node.range) offset = node.range[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/**
 * Where a field path points in the document: the node itself, or for a key (an unknown
 * field, say) the key, or for a missing field the nearest ancestor that exists.
 */
function nodeOffset(doc: Document, path: FieldPath, atKey: boolean): { offset: number; quoted: boolean } {
  let node: unknown = doc.contents;
  let best = { offset: (doc.contents as YamlNode | null)?.range?.[0] ?? 0, quoted: false };
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) break;
    if (isMap(node)) {
      const pair = pairOf(node, seg);
      if (!isPair(pair)) break;
      const key = pair.key as YamlNode;
      if (atKey && i === path.length - 1 && key.range) return { offset: key.range[0], quoted: false };
      // A null value (`key:` with nothing after it) has no range: point at the key.
      const value = pair.value as YamlNode | null;
      node = value;
      const range = value?.range ?? key.range;
      if (range) best = { offset: range[0], quoted: isQuoted(value) };
      if (!value) break;
    } else if (isNode(node) && 'items' in node && typeof seg === 'number') {
      const item = (node.items as unknown[])[seg];
      if (!isNode(item)) break;
      node = item;
      if (item.range) best = { offset: item.range[0], quoted: isQuoted(item) };
    } else {
      break;
    }
  }
  return best;
}

function isQuoted(node: unknown): boolean {
  return isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE');
}

/** The lab reference of a scenario document (lab.file), if it has one. */
function labReference(data: unknown): (Partial<LabSpec> & { file: string; istio?: Partial<LabSpec['istio']> }) | undefined {
  const lab = (data as { lab?: unknown }).lab;
  if (lab === null || typeof lab !== 'object' || typeof (lab as { file?: unknown }).file !== 'string') return undefined;
  return lab as Partial<LabSpec> & { file: string };
}

/** The capture reference of a scenario document (lab.capture), if it has one. */
function captureReference(data: unknown): Record<string, unknown> | undefined {
  const lab = (data as { lab?: unknown }).lab;
  return lab !== null && typeof lab === 'object' && 'capture' in lab ? (lab as Record<string, unknown>) : undefined;
}

/** A Lab file's lab with a scenario's additions: pods, Services and external hosts added; istio fields, meshConfig, proxy and network replaced. */
function withAdditions(base: LabSpec, ref: Partial<Omit<LabSpec, 'istio'>> & { istio?: Partial<LabSpec['istio']> }): LabSpec {
  const list = <T>(a: T[] | undefined, b: T[] | undefined) => (a === undefined && b === undefined ? {} : { v: [...(a ?? []), ...(b ?? [])] });
  const services = list(base.services, ref.services);
  const externalHosts = list(base.externalHosts, ref.externalHosts);
  return {
    ...base,
    istio: { ...base.istio, ...ref.istio },
    ...(ref.meshConfig !== undefined ? { meshConfig: ref.meshConfig } : {}),
    ...(ref.proxy !== undefined ? { proxy: ref.proxy } : {}),
    ...(ref.network !== undefined ? { network: ref.network } : {}),
    pods: [...base.pods, ...(ref.pods ?? [])],
    ...('v' in services ? { services: services.v } : {}),
    ...('v' in externalHosts ? { externalHosts: externalHosts.v } : {}),
  };
}
