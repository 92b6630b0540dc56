// Two texts line by line: the lines kept, removed and added (longest common subsequence), and
// the unified diff `--record` prints. Pure; `pathlab report diff` compares two runs' hop lists
// with the same line operations.
import { visibleControls } from './text.ts';

/** A unified diff of two texts, `context` lines around each change; empty when they are equal. */
export function unifiedDiff(before: string, after: string, file: string, context = 3): string {
  if (before === after) return '';
  // A last line without a newline is another line than the same text with one: it carries a NUL
  // (which a text file the loader took cannot hold) until it is printed.
  const split = (s: string) => {
    const lines = s.split('\n');
    if (lines.at(-1) === '') lines.pop();
    else lines[lines.length - 1] += '\0';
    return lines;
  };
  const ops = lineOps(split(before), split(after));
  const out = [`--- ${file}`, `+++ ${file}`];
  // Hunks: runs of changes with their context, joined when the context between them would overlap.
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.op === ' ') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end]!.op !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next]!.op === ' ') next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else {
        end = Math.min(ops.length, end + context);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const first = hunk[0]!;
    const aLen = hunk.filter((o) => o.op !== '+').length;
    const bLen = hunk.filter((o) => o.op !== '-').length;
    const aStart = aLen === 0 ? first.a : first.a + 1;
    const bStart = bLen === 0 ? first.b : first.b + 1;
    // As GNU diff writes it: the count left out when it is 1.
    const span = (start: number, len: number) => (len === 1 ? `${start}` : `${start},${len}`);
    out.push(`@@ -${span(aStart, aLen)} +${span(bStart, bLen)} @@`);
    for (const o of hunk) {
      const noEol = o.text.endsWith('\0');
      out.push(`${o.op}${visibleControls(noEol ? o.text.slice(0, -1) : o.text)}`);
      if (noEol) out.push('\\ No newline at end of file');
    }
    i = end;
  }
  return `${out.join('\n')}\n`;
}

export interface LineOp {
  op: ' ' | '-' | '+';
  text: string;
  /** Index of the line in the old text (for '+': where it goes). */
  a: number;
  /** Index of the line in the new text (for '-': where it was). */
  b: number;
}

/** The lines of `a` and `b` as kept, removed and added: common ends trimmed, the middle by longest common subsequence. */
export function lineOps(a: readonly string[], b: readonly string[]): LineOp[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let post = 0;
  while (post < a.length - pre && post < b.length - pre && a[a.length - 1 - post] === b[b.length - 1 - post]) post++;
  const am = a.slice(pre, a.length - post);
  const bm = b.slice(pre, b.length - post);
  const ops: LineOp[] = [];
  for (let k = 0; k < pre; k++) ops.push({ op: ' ', text: a[k]!, a: k, b: k });
  // The table is (n+1)(m+1): past a few million cells the middle is shown as removed then added.
  if (am.length * bm.length <= 4_000_000) {
    const n = am.length;
    const m = bm.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let x = n - 1; x >= 0; x--) for (let y = m - 1; y >= 0; y--) lcs[x]![y] = am[x] === bm[y] ? lcs[x + 1]![y + 1]! + 1 : Math.max(lcs[x + 1]![y]!, lcs[x]![y + 1]!);
    let x = 0;
    let y = 0;
    while (x < n || y < m) {
      if (x < n && y < m && am[x] === bm[y]) ops.push({ op: ' ', text: am[x++]!, a: pre + x - 1, b: pre + y++ });
      else if (x < n && (y === m || lcs[x + 1]![y]! >= lcs[x]![y + 1]!)) ops.push({ op: '-', text: am[x++]!, a: pre + x - 1, b: pre + y });
      else ops.push({ op: '+', text: bm[y++]!, a: pre + x, b: pre + y - 1 });
    }
  } else {
    am.forEach((text, k) => ops.push({ op: '-', text, a: pre + k, b: pre }));
    bm.forEach((text, k) => ops.push({ op: '+', text, a: pre + am.length, b: pre + k }));
  }
  for (let k = 0; k < post; k++) ops.push({ op: ' ', text: a[a.length - post + k]!, a: a.length - post + k, b: b.length - post + k });
  return ops;
}
