// Goldens in test/golden: plain text; leading `#` lines are a header saying where the content
// came from and how it was checked. UPDATE_GOLDEN=1 rewrites the body (keeping the header).
import { readFileSync, writeFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';

const dir = new URL('../golden/', import.meta.url);

export function readGolden(name: string): { header: string; body: string } {
  const text = readFileSync(new URL(name, dir), 'utf8');
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('#')) i++;
  return { header: lines.slice(0, i).join('\n'), body: lines.slice(i).join('\n') };
}

/** A minimal unified diff of two texts (whole-file hunk), enough to see the first difference. */
export function unifiedDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const out = ['--- golden', '+++ actual'];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] !== undefined) out.push(`-${i + 1}: ${a[i]}`);
    if (b[i] !== undefined) out.push(`+${i + 1}: ${b[i]}`);
  }
  return out.join('\n');
}

export function assertGolden(t: ExecutionContext, name: string, actual: string, normalise: (s: string) => string = (s) => s): void {
  const { header, body } = readGolden(name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(new URL(name, dir), header ? `${header}\n${actual}` : actual);
    t.pass();
    return;
  }
  const want = normalise(body);
  const got = normalise(actual);
  if (want === got) t.pass();
  else t.fail(`golden ${name} differs:\n${unifiedDiff(want, got)}`);
}

/** istioctl's goldens are compared whitespace aside: runs of spaces collapse, trailing space goes. */
export function collapseSpaces(s: string): string {
  return s
    .split('\n')
    .map((l) => l.replace(/ +/g, ' ').trimEnd())
    .join('\n');
}
