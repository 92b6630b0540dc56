#!/usr/bin/env node
// Entry point of the `pathlab` command: the CLI is TypeScript, run through tsx's loader
// (the same loader the tests use), so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
// `pathlab … | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
