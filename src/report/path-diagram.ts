// A path as a picture: the places a packet passes are lanes (the app, its pod's kernel, its
// sidecar, the wire, the peer pod's kernel, sidecar and app), each hop a row with a mark in its
// lane and its text beside the lanes. Two series share one drawing: the expected path (hollow
// dashed rings, joined by a dashed line) and the observed one (filled dots, a solid line); a hop
// both name is a dot in a ring. The first difference is a red band, must-not hops are crosses
// below the path (red when seen). Our own SVG (a few shapes and text): no library, so the
// drawing is pure, has no dependency, and the HTML report and `explain --format svg` share it.
import { parseHop, type Hop } from '../paths/hop.ts';
import type { ProbeResult } from '../paths/verdict.ts';
import { visibleControls } from '../scenario/text.ts';
import { hopDiffRows } from './hop-diff.ts';

export const LANES = ['app', 'kernel', 'envoy', 'wire', 'peer kernel', 'peer envoy', 'peer app'] as const;
export type Lane = (typeof LANES)[number];

const LANE_TITLES: Readonly<Record<Lane, string>> = {
  app: 'app',
  kernel: 'iptables',
  envoy: 'Envoy',
  wire: 'wire',
  'peer kernel': 'peer iptables',
  'peer envoy': 'peer Envoy',
  'peer app': 'peer app',
};

/** One row of the drawing: the hop of each series it carries (text as in the report). */
export interface DiagramRow {
  expected?: string;
  observed?: string;
  /** The first difference: a reader looks here first. */
  marked?: boolean;
  /** Where a click on the row leads (its evidence). */
  href?: string;
  /** A line under the hop's text (explain's reason for it). */
  note?: string;
}

export interface DiagramInput {
  rows: DiagramRow[];
  /** Hops that must not be on the path, and whether each was seen. */
  mustNot?: Array<{ hop: string; seen: boolean; href?: string }>;
  /** The two series' names in the legend: expected/observed for a run, only `observed` (named "predicted") for explain. */
  names?: { expected: string; observed: string };
  /** The drawing's accessible title. */
  title: string;
  /** Where the connection starts, drawn in the app lane above the hops: `app (10.64.0.14) → 10.0.0.6:7000`. */
  origin?: string;
  /** Lines under the drawing (explain's "client sees"). */
  caption?: string[];
}

/** Words into lines of at most `width` characters (a longer word is a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const NOTE_WIDTH = 100;
const LINE_H = 13;

function parsed(text: string): Hop | undefined {
  try {
    return parseHop(text);
  } catch {
    return undefined;
  }
}

/** A rule set met on the receiving side: inbound capture, its redirect, TPROXY (a first chain of OUTPUT is the sender's). */
const INBOUND_CHAINS = /PREROUTING|INBOUND|IN_REDIRECT/;

/**
 * A walk along one path: hops are the source pod's until the path crosses the wire or meets an
 * inbound chain or listener, the peer's after; an app hop is the receiving app, a reply comes
 * back to the sending one. A hop that does not parse stays in the lane of the hop before it.
 */
class LaneWalk {
  private peer = false;
  private last: Lane = 'app';

  /** The hop's lane from where the walk is; with `commit` false the walk stays where it was. */
  lane(text: string, commit = true): Lane {
    const hop = parsed(text);
    if (!hop) return this.last;
    let peer = this.peer;
    let lane: Lane;
    switch (hop.kind) {
      case 'iptables':
        if (INBOUND_CHAINS.test(hop.steps[0]?.chain ?? '') || hop.effect?.target === 'TPROXY') peer = true;
        lane = peer ? 'peer kernel' : 'kernel';
        break;
      case 'envoy':
        if (/inbound/i.test(hop.attrs.find(([k]) => k === 'listener')?.[1] ?? '')) peer = true;
        lane = peer ? 'peer envoy' : 'envoy';
        break;
      case 'wire':
        lane = 'wire';
        peer = true;
        break;
      case 'app':
        lane = 'peer app';
        break;
      case 'reply':
        lane = 'app';
        break;
    }
    if (commit) {
      this.peer = peer;
      this.last = lane;
    }
    return lane;
  }
}

/** The lane of each hop of one path, in order. */
export function lanesOf(hops: readonly string[]): Lane[] {
  const walk = new LaneWalk();
  return hops.map((h) => walk.lane(h));
}

/**
 * One walk for a drawing's rows: each row's observed hop (else its expected one) moves it, and
 * an expected hop beside an observed one takes the observed hop's lane when it is the same kind
 * of hop (the same place), else its own lane from where the walk was. So a hop both series name
 * is one mark in one lane, whatever hops only one of them has before it.
 */
export function rowLanes(rows: readonly DiagramRow[]): Array<{ expected?: Lane; observed?: Lane }> {
  const walk = new LaneWalk();
  const kind = (t: string) => /^\s*(\S+)/.exec(t)?.[1];
  return rows.map((r) => {
    const before = r.expected !== undefined && r.observed !== undefined && kind(r.expected) !== kind(r.observed) ? walk.lane(r.expected, false) : undefined;
    const main = walk.lane(r.observed ?? r.expected ?? '');
    return {
      ...(r.expected !== undefined ? { expected: before ?? main } : {}),
      ...(r.observed !== undefined ? { observed: main } : {}),
    };
  });
}

/** The drawing's rows for one probe of a run: expected beside observed, as the console's table pairs them. */
export function probeDiagram(p: ProbeResult, href: (hop: string) => string | undefined = () => undefined): DiagramInput {
  const rows = hopDiffRows(p).map((r): DiagramRow => {
    const link = (r.observed !== undefined ? href(r.observed) : undefined) ?? (r.expected !== undefined ? href(r.expected) : undefined);
    return {
      ...(r.expected !== undefined ? { expected: r.expected } : {}),
      ...(r.observed !== undefined ? { observed: r.observed } : {}),
      marked: r.marked,
      ...(link ? { href: link } : {}),
    };
  });
  const seen = new Set(p.notExpectedSeen);
  const mustNot = p.notExpected.map((hop) => {
    const link = href(hop);
    return { hop, seen: seen.has(hop), ...(link ? { href: link } : {}) };
  });
  // The title is `<scenario> · <pod> (<ip>) → <target>`: the part after the scenario is where the connection starts.
  const origin = p.title.split(' · ').slice(1).join(' · ');
  return { rows, mustNot, title: p.title, ...(origin ? { origin } : {}) };
}

/** Text as XML/HTML text or attribute value: control characters visible, the five markup characters escaped. */
export const esc = (text: string): string =>
  visibleControls(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

// Geometry: lanes of LANE_W each, then the text column; rows ROW_H apart under the lane titles.
const LANE_W = 74;
const ROW_H = 34;
const TOP = 44;
const PAD = 12;
const CHAR_W = 7.3;
const TEXT_X = PAD + LANES.length * LANE_W + 14;

const laneX = (lane: Lane): number => PAD + LANES.indexOf(lane) * LANE_W + LANE_W / 2;

const COLORS = { expected: '#2563eb', observed: '#111827', marked: '#dc2626', markedBand: '#fee2e2', mustNot: '#6b7280', grid: '#d1d5db' };

/**
 * The SVG of a path drawing. Every hop mark is a `<g class="hop">` with `data-series`
 * (expected, observed or both), `data-hop` (its text; the observed one for both) and
 * `data-lane`; the marked row has `data-marked="true"`; must-not hops are `<g class="must-not">`
 * with `data-seen`. A reader (and a test) finds the path in the DOM by these.
 */
export function renderDiagram(input: DiagramInput): string {
  const names = input.names ?? { expected: 'expected', observed: 'observed' };
  const mustNot = input.mustNot ?? [];
  const lanes = rowLanes(input.rows);
  const mustNotLanes = mustNot.map((m) => lanesOf([m.hop])[0]!);
  const longest = Math.max(
    30,
    ...input.rows.flatMap((r) => [`${r.marked ? '▶ ' : ''}${r.observed ?? `${r.expected} (not observed)`}`, r.expected !== undefined && r.expected !== r.observed ? `${names.expected}: ${r.expected}` : '', ...wrap(r.note ?? '', NOTE_WIDTH)].map((t) => t.length + 2)),
    ...(input.caption ?? []).map((c) => c.length),
    ...mustNot.map((m) => m.hop.length + 22),
  );
  const width = Math.ceil(TEXT_X + longest * CHAR_W + PAD);
  const top = TOP + (input.origin !== undefined ? ROW_H : 0);
  // Each row's second lines: the expected hop where it differs from the observed one, else its note, wrapped.
  const seconds = input.rows.map((r) => (r.expected !== undefined && r.observed !== undefined && r.expected !== r.observed ? [`${names.expected}: ${r.expected}`] : r.note !== undefined ? wrap(r.note, NOTE_WIDTH) : []));
  const rowTops: number[] = [];
  let rowsEnd = top;
  for (const more of seconds) {
    rowTops.push(rowsEnd);
    rowsEnd += ROW_H + Math.max(0, more.length - 1) * LINE_H;
  }
  const rowH = (i: number): number => ROW_H + Math.max(0, seconds[i]!.length - 1) * LINE_H;
  const mustNotTop = rowsEnd + (mustNot.length ? 28 : 0);
  const captionTop = mustNotTop + mustNot.length * ROW_H;
  const caption = input.caption ?? [];
  const height = captionTop + caption.length * 16 + (caption.length ? 8 : 0) + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="path-diagram" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`);
  out.push(`<title>${esc(input.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  // Lane titles and lifelines.
  for (const lane of LANES) {
    const x = laneX(lane);
    out.push(`<text x="${x}" y="18" text-anchor="middle" font-family="system-ui, sans-serif" font-size="11" fill="#374151">${esc(LANE_TITLES[lane])}</text>`);
    out.push(`<line x1="${x}" y1="26" x2="${x}" y2="${captionTop}" stroke="${COLORS.grid}" stroke-dasharray="2 3"/>`);
  }
  const y = (i: number): number => rowTops[i]! + ROW_H / 2;
  // Marked rows' bands go under everything else.
  input.rows.forEach((r, i) => {
    if (r.marked) out.push(`<rect class="difference" x="2" y="${rowTops[i]! + 1}" width="${width - 4}" height="${rowH(i) - 2}" fill="${COLORS.markedBand}" rx="4" pointer-events="none"/>`);
  });
  // The two lines, each through its series' marks.
  const points = (series: 'expected' | 'observed'): string => {
    const start = input.origin !== undefined ? [`${laneX('app')},${TOP + ROW_H / 2}`] : [];
    const marks = lanes.flatMap((l, i) => (l[series] !== undefined ? [`${laneX(l[series])},${y(i)}`] : []));
    return marks.length ? [...start, ...marks].join(' ') : '';
  };
  const ep = points('expected');
  const op = points('observed');
  if (ep) out.push(`<polyline class="line-expected" points="${ep}" fill="none" stroke="${COLORS.expected}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
  if (op) out.push(`<polyline class="line-observed" points="${op}" fill="none" stroke="${COLORS.observed}" stroke-width="2"/>`);
  if (input.origin !== undefined) {
    const oy = TOP + ROW_H / 2;
    out.push(`<g class="origin"><rect x="${laneX('app') - 6}" y="${oy - 6}" width="12" height="12" fill="${COLORS.observed}"/><text x="${TEXT_X}" y="${oy + 4}" fill="${COLORS.observed}">${esc(input.origin)}</text></g>`);
  }
  // The rows: marks in their lanes, text beside.
  input.rows.forEach((r, i) => {
    const { expected: el, observed: ol } = lanes[i]!;
    const cy = y(i);
    const color = r.marked ? COLORS.marked : COLORS.observed;
    const body: string[] = [];
    const both = el !== undefined && ol !== undefined && el === ol;
    const series = r.expected !== undefined && r.observed !== undefined ? 'both' : r.expected !== undefined ? 'expected' : 'observed';
    const hop = r.observed ?? r.expected ?? '';
    if (el !== undefined) body.push(`<circle cx="${laneX(el)}" cy="${cy}" r="${both ? 9 : 7}" fill="#ffffff" stroke="${r.marked ? COLORS.marked : COLORS.expected}" stroke-width="2" stroke-dasharray="${r.observed === undefined ? '3 2' : 'none'}"/>`);
    if (ol !== undefined) body.push(`<circle cx="${laneX(ol)}" cy="${cy}" r="4.5" fill="${color}"/>`);
    const first = r.observed ?? `${r.expected} (not observed)`;
    const textColor = r.observed === undefined ? COLORS.expected : color;
    const more = seconds[i]!;
    const mark = r.marked ? '▶ ' : '';
    body.push(`<text x="${TEXT_X}" y="${more.length ? cy - 3 : cy + 4}" fill="${textColor}"${r.marked ? ' font-weight="bold"' : ''}>${esc(mark + first)}</text>`);
    const moreColor = r.marked ? COLORS.marked : r.expected !== undefined && r.observed !== undefined && r.expected !== r.observed ? COLORS.expected : COLORS.mustNot;
    more.forEach((line, k) => body.push(`<text x="${TEXT_X}" y="${cy + 12 + k * LINE_H}" fill="${moreColor}" font-size="11">${esc(line)}</text>`));
    const attrs = `class="hop" data-series="${series}" data-hop="${esc(hop)}"${r.expected !== undefined ? ` data-expected="${esc(r.expected)}"` : ''} data-lane="${ol ?? el}"${r.marked ? ' data-marked="true"' : ''}`;
    const title = `<title>${esc(series === 'both' ? `${names.expected}: ${r.expected}\n${names.observed}: ${r.observed}` : `${series === 'expected' ? `${names.expected} (not ${names.observed})` : names.observed}: ${hop}`)}</title>`;
    // A linked row is clickable across its whole width, not only on its mark and text.
    const hit = r.href ? `<rect x="2" y="${rowTops[i]!}" width="${width - 4}" height="${rowH(i)}" fill="none" pointer-events="all"/>` : '';
    const g = `<g ${attrs}>${title}${hit}${body.join('')}</g>`;
    out.push(r.href ? `<a href="${esc(r.href)}">${g}</a>` : g);
  });
  // Must-not hops: a cross in the hop's lane, red when it was seen.
  if (mustNot.length) {
    out.push(`<text x="${PAD}" y="${mustNotTop - 8}" font-family="system-ui, sans-serif" font-size="11" fill="#374151">must not be on the path</text>`);
    out.push(`<line x1="${PAD}" y1="${mustNotTop - 2}" x2="${width - PAD}" y2="${mustNotTop - 2}" stroke="${COLORS.grid}"/>`);
  }
  mustNot.forEach((m, i) => {
    const cx = laneX(mustNotLanes[i]!);
    const cy = mustNotTop + i * ROW_H + ROW_H / 2;
    const color = m.seen ? COLORS.marked : COLORS.mustNot;
    const d = 6;
    const cross = `<path d="M${cx - d} ${cy - d}L${cx + d} ${cy + d}M${cx + d} ${cy - d}L${cx - d} ${cy + d}" stroke="${color}" stroke-width="2.5"/>`;
    const text = `<text x="${TEXT_X}" y="${cy + 4}" fill="${color}" text-decoration="line-through"${m.seen ? ' font-weight="bold"' : ''}>${esc(m.hop)}</text>${m.seen ? `<text x="${TEXT_X + (m.hop.length + 2) * CHAR_W}" y="${cy + 4}" fill="${color}" font-weight="bold">seen</text>` : ''}`;
    const g = `<g class="must-not" data-hop="${esc(m.hop)}" data-seen="${m.seen}" data-lane="${mustNotLanes[i]}"><title>${esc(`must not: ${m.hop}${m.seen ? ' (seen)' : ' (not seen)'}`)}</title>${cross}${text}</g>`;
    out.push(m.href ? `<a href="${esc(m.href)}">${g}</a>` : g);
  });
  caption.forEach((line, i) => out.push(`<text class="caption" x="${PAD}" y="${captionTop + 18 + i * 16}" fill="#111827">${esc(line)}</text>`));
  // The legend.
  const ly = height - 14;
  const legend: string[] = [];
  let lx = PAD + 8;
  const item = (shape: string, label: string): void => {
    legend.push(shape.replace(/X0/g, String(lx)), `<text x="${lx + 14}" y="${ly + 4}" fill="#374151">${esc(label)}</text>`);
    lx += 14 + label.length * CHAR_W + 24;
  };
  if (input.rows.some((r) => r.expected !== undefined)) item(`<circle cx="X0" cy="${ly}" r="6" fill="#fff" stroke="${COLORS.expected}" stroke-width="2" stroke-dasharray="3 2"/>`, names.expected);
  if (input.rows.some((r) => r.observed !== undefined)) item(`<circle cx="X0" cy="${ly}" r="4.5" fill="${COLORS.observed}"/>`, names.observed);
  if (input.rows.some((r) => r.marked)) item(`<rect x="X0" y="${ly - 7}" width="10" height="14" fill="${COLORS.markedBand}" stroke="${COLORS.marked}"/>`, 'first difference');
  if (mustNot.length) item(`<path d="M${lx - 5} ${ly - 5}L${lx + 5} ${ly + 5}M${lx + 5} ${ly - 5}L${lx - 5} ${ly + 5}" stroke="${COLORS.mustNot}" stroke-width="2"/>`, 'must not');
  out.push(`<g class="legend">${legend.join('')}</g>`);
  out.push('</svg>');
  return out.join('\n');
}
