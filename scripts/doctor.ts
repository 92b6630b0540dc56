// npm script entry point: can this machine run the kind backend? `pathlab doctor`.
//   tsx scripts/doctor.ts
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['doctor']);
