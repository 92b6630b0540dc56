// The expected and observed hops of one probe side by side, with the first difference marked.
// Console and JUnit print the same table; only the console colours it.
import { visibleControls } from '../scenario/text.ts';
import type { Evidence, ProbeResult } from '../paths/verdict.ts';

export const DIFF_MARK = '▶';

/** One line of the table: an expected hop, the observed hop that stands for it, or both. */
export interface HopDiffRow {
  /** Index into `expected`, when the row carries an expected hop. */
  expectedIndex?: number;
  expected?: string;
  /** Index into `observed`, when the row carries an observed hop. */
  observedIndex?: number;
  observed?: string;
  /** The first difference: the hop a reader looks at first. */
  marked: boolean;
}

/**
 * The rows of the table, in path order: each expected hop beside the observed hop the runner
 * matched it with (`matched`); the first difference beside the observed hop the runner named
 * for it (`firstDifference.observed`), so a wrong listener stands next to the expected one.
 */
export function hopDiffRows(p: ProbeResult): HopDiffRow[] {
  const fd0 = p.firstDifference;
  const pairs = p.matched.map((k, i) => {
    if (k !== null || !fd0 || fd0.index !== i || fd0.observed === null) return k;
    const after = Math.max(-1, ...p.matched.slice(0, i).map((m) => m ?? -1));
    const facing = p.observed.findIndex((o, j) => j > after && o === fd0.observed);
    return facing >= 0 ? facing : null;
  });
  const rows: HopDiffRow[] = [];
  let next = 0;
  const pushObservedUpTo = (end: number): void => {
    for (; next < end; next++) rows.push({ observedIndex: next, observed: p.observed[next], marked: false });
  };
  p.expected.forEach((e, i) => {
    const k = pairs[i];
    if (k !== null && k !== undefined && k >= next) {
      pushObservedUpTo(k);
      rows.push({ expectedIndex: i, expected: e, observedIndex: k, observed: p.observed[k], marked: false });
      next = k + 1;
    } else {
      rows.push({ expectedIndex: i, expected: e, marked: false });
    }
  });
  pushObservedUpTo(p.observed.length);

  const fd = p.firstDifference;
  if (fd) {
    const target =
      fd.index >= 0
        ? rows.find((r) => r.expectedIndex === fd.index)
        : rows.find((r) => r.observed !== undefined && r.observed === fd.observed);
    if (target) target.marked = true;
  }
  return rows;
}

export interface Paint {
  mark: (s: string) => string;
  dim: (s: string) => string;
  missing: (s: string) => string;
}

const plain: Paint = { mark: (s) => s, dim: (s) => s, missing: (s) => s };

/**
 * The two-column table as lines, `indent` spaces in; the marked row starts with ▶. When the
 * table is wider than `columns` (a terminal's width), each row is stacked instead: its expected
 * hop over its observed one (`both` when they are the same text).
 */
export function formatHopDiff(p: ProbeResult, indent = 0, paint: Paint = plain, columns?: number): string[] {
  const rows = hopDiffRows(p);
  const absent = '(not observed)';
  const left = (r: HopDiffRow): string => visibleControls(r.expected ?? '');
  const width = Math.max('expected'.length, ...rows.map((r) => left(r).length));
  const pad = ' '.repeat(indent);
  const widest = indent + 2 + width + 3 + Math.max(absent.length, ...rows.map((r) => visibleControls(r.observed ?? '').length));
  if (columns !== undefined && widest > columns) return stackedHopDiff(rows, pad, paint);
  const lines = [`${pad}  ${'expected'.padEnd(width)} │ observed`];
  for (const r of rows) {
    const mark = r.marked ? `${DIFF_MARK} ` : '  ';
    const l = left(r).padEnd(width);
    const o = r.observed !== undefined ? visibleControls(r.observed) : r.expected !== undefined ? absent : '';
    const text = `${mark}${l} │ ${o}`.trimEnd();
    lines.push(pad + (r.marked ? paint.mark(text) : r.observed === undefined ? paint.missing(text) : text));
  }
  return lines;
}

function stackedHopDiff(rows: HopDiffRow[], pad: string, paint: Paint): string[] {
  const lines: string[] = [];
  for (const r of rows) {
    const mark = r.marked ? `${DIFF_MARK} ` : '  ';
    const e = r.expected !== undefined ? visibleControls(r.expected) : undefined;
    const o = r.observed !== undefined ? visibleControls(r.observed) : undefined;
    const row = e !== undefined && e === o ? [`both     ${e}`] : [...(e !== undefined ? [`expected ${e}`] : []), `observed ${o ?? '(not observed)'}`];
    row.forEach((text, k) => {
      const line = `${k === 0 ? mark : '  '}${text}`;
      lines.push(pad + (r.marked ? paint.mark(line) : o === undefined && k === row.length - 1 ? paint.missing(line) : line));
    });
  }
  return lines;
}

/** One line saying what the first difference is, or undefined when there is none. */
export function firstDifferenceLine(p: ProbeResult): string | undefined {
  const fd = p.firstDifference;
  if (!fd) return undefined;
  if (fd.index < 0) return `must-not hop seen: ${fd.expected} (observed ${fd.observed ?? '?'}): ${fd.why}`;
  return `first differing hop, expected #${fd.index + 1}: ${fd.expected} — observed ${fd.observed ?? 'nothing'}: ${fd.why}`;
}

/**
 * The evidence behind the first difference: the entries tied to that hop (by `hop`), else
 * every entry — a reader must never be shown less than what the runner had.
 */
export function evidenceOfDifference(p: ProbeResult): Evidence[] {
  const fd = p.firstDifference;
  if (fd) {
    const hops = new Set([fd.expected, ...(fd.observed === null ? [] : [fd.observed])]);
    const tied = p.evidence.filter((e) => e.hop !== undefined && hops.has(e.hop));
    if (tied.length > 0) return tied;
  }
  return p.evidence;
}
