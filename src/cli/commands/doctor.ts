// `pathlab doctor`: what the kind backend needs on this machine, each problem with what to do.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { hostRunner } from '../../lab/kind/kind-lab.ts';
import { formatDoctor, runDoctor, type Runner as DoctorRunner } from '../../lab/kind/doctor.ts';
import { defaultCacheDir } from '../../lab/kind/istioctl-cache.ts';


export async function kindDoctor(ctx: CliContext, opts: { cacheDir?: string; run?: DoctorRunner } = {}): Promise<void> {
  const report = await runDoctor(opts.run ?? hostRunner, { cacheDir: opts.cacheDir ?? defaultCacheDir() });
  ctx.io.out(formatDoctor(report));
  if (!report.ok) ctx.exit(EXIT_ENVIRONMENT);
}

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check what the kind backend needs: Docker engine, compose, kind, kubectl, istioctl, memory; each problem with what to do')
    .addHelpText('after', '\nExit codes: 0 ready, 3 something is missing (each FAIL line says what to do).')
    .action(async () => {
      await kindDoctor(ctx);
    });
}
