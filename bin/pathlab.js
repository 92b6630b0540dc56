#!/usr/bin/env node
// Entry point of the `pathlab` command: the CLI is TypeScript, run through tsx's loader
// (the same loader the tests use), so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
