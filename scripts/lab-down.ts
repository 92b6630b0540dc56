// zx entry point: remove kind labs (the same code as `pathlab lab down --backend kind`).
//   tsx scripts/lab-down.ts (--lab-id ID | --all) [--dry-run]
import { argv } from 'zx';
import { runScript } from './kind-script.ts';
import { kindLabDown } from '../src/cli/commands/lab-kind.ts';

await runScript((ctx) =>
  kindLabDown(
    { dryRun: Boolean(argv['dry-run']), all: Boolean(argv.all), ...(argv['lab-id'] === undefined ? {} : { labId: String(argv['lab-id']) }) },
    ctx,
  ),
);
