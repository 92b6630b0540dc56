// `pathlab validate` of a hostile file: 100,000 unknown keys in just under 1 MiB (issue 12:
// it took 121 s). Floor, measured in the same run: `node -e ''` started the same way (the CLI's
// own start-up) plus parsing the file's YAML alone. Target: the whole command under 2 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-validate-bench-'));
try {
  const text = readFileSync('test/data/malformed/_base.yaml.txt', 'utf8') + Array.from({ length: 100_000 }, (_, i) => `x${i.toString(36)}: 1\n`).join('');
  const file = join(dir, 'hostile.yaml');
  writeFileSync(file, text);
  const best = (fn: () => void) => Math.min(...[0, 1, 2].map(() => { const t0 = performance.now(); fn(); return performance.now() - t0; }));
  const start = best(() => void spawnSync(process.execPath, ['--import', 'tsx', '-e', ''], { encoding: 'utf8' }));
  const parse = best(() => void parseAllDocuments(text, { uniqueKeys: false }));
  const whole = best(() => void spawnSync(process.execPath, ['bin/pathlab.js', 'validate', file], { encoding: 'utf8' }));
  const floor = start + parse;
  console.log(`floor: node + tsx start-up ${start.toFixed(0)} ms + YAML parse ${parse.toFixed(0)} ms = ${floor.toFixed(0)} ms = 1.00`);
  console.log(`pathlab validate (100,000 unknown keys, ${(text.length / 1024).toFixed(0)} KiB)  ${whole.toFixed(0)} ms = ${(whole / floor).toFixed(2)} × floor (target: under 2000 ms)`);
  if (whole >= 2000) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
