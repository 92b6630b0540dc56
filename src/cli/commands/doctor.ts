// `pathlab doctor`: what the kind backend needs on this machine, each problem with what to do.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { exec } from '../../lab/exec.ts';
import { formatDoctor, runDoctor, type Runner as DoctorRunner } from '../../lab/kind/doctor.ts';
import { defaultCacheDir } from '../../lab/kind/istioctl-cache.ts';

const host = (argv: readonly string[], opts: { input?: string } = {}) => exec(argv, { ...(opts.input === undefined ? {} : { input: opts.input }), where: 'host' });

export async function kindDoctor(ctx: CliContext, opts: { cacheDir?: string; run?: DoctorRunner } = {}): Promise<void> {
  const report = await runDoctor(opts.run ?? host, { cacheDir: opts.cacheDir ?? defaultCacheDir() });
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
