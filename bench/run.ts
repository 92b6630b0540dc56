// `npm run bench`: runs every bench/*.bench.ts in turn (or those named on the command line).
// Each benchmark prints its figures as a ratio against a floor it measures in the same run.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
for (const f of files) {
  console.log(`\n== ${f}`);
  await import(pathToFileURL(join(dir, f)).href);
}
