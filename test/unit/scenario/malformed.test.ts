import test from 'ava';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import { formatProblem } from '../../../src/scenario/problems.ts';
import { MALFORMED_CASES, MALFORMED_DIR } from './malformed-cases.ts';

test('the malformed corpus has at least 30 files, each with an expectation', async (t) => {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(MALFORMED_DIR).filter((n) => n.endsWith('.yaml')).map((n) => `${MALFORMED_DIR}/${n}`);
  t.true(files.length >= 30);
  t.deepEqual(files.sort(), MALFORMED_CASES.map((c) => c.file).sort());
});

for (const c of MALFORMED_CASES) {
  test(`rejects ${c.file.slice(MALFORMED_DIR.length + 1)}`, (t) => {
    const r = loadScenarioFile(c.file);
    t.false(r.ok);
    if (r.ok) return;
    const lines = r.problems.map(formatProblem);
    // The expected lines come first, in order; a YAML syntax error may bring follow-on lines.
    t.deepEqual(lines.slice(0, c.lines.length), c.lines);
    if (!c.file.endsWith('tab-indent.yaml')) t.is(lines.length, c.lines.length, lines.join('\n'));
  });
}
