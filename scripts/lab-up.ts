// zx entry point: start a kind lab (the same code as `pathlab lab up --backend kind`).
//   tsx scripts/lab-up.ts [--dry-run] [--lab-id ID] [--scenario FILE]
import { argv } from 'zx';
import { runScript } from './kind-script.ts';
import { kindLabUp } from '../src/cli/commands/lab-kind.ts';

await runScript((ctx) =>
  kindLabUp(
    {
      dryRun: Boolean(argv['dry-run']),
      ...(argv['lab-id'] === undefined ? {} : { labId: String(argv['lab-id']) }),
      ...(argv.scenario === undefined ? {} : { scenario: String(argv.scenario) }),
    },
    ctx,
  ),
);
