// npm script entry point: remove kind labs: `pathlab lab down --backend kind` with this script's options.
//   tsx scripts/lab-down.ts (--lab-id ID | --all) [--dry-run]
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['lab', 'down', '--backend', 'kind', ...process.argv.slice(2)]);
