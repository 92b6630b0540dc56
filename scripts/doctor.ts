// zx entry point: can this machine run the kind backend? (the same code as `pathlab doctor`)
//   tsx scripts/doctor.ts
import { runScript } from './kind-script.ts';
import { kindDoctor } from '../src/cli/commands/lab-kind.ts';

await runScript((ctx) => kindDoctor(ctx));
