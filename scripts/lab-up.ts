// npm script entry point: start a kind lab: `pathlab lab up --backend kind` with this script's options.
//   tsx scripts/lab-up.ts [--dry-run] [--lab-id ID] [--scenario FILE]
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['lab', 'up', '--backend', 'kind', ...process.argv.slice(2)]);
