// `pathlab doctor`: what each backend needs on this machine, each problem with what to do.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { BACKEND_REGISTRY, backendNamed } from '../../lab/registry.ts';
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
    .description('check what the backends need: netns (root, Debian packages, the pinned Envoy), kind (Docker engine, compose, kind, kubectl, istioctl, memory), cluster (with --context: API access, Istio, RBAC, Pod Security); each problem with what to do')
    .option('--backend <backend>', `only this one: ${Object.keys(BACKEND_REGISTRY).join(' or ')}`)
    .option('--context <name>', 'check this kubeconfig context for the cluster backend (RBAC of every call a run makes, Pod Security of its namespaces); read-only, nothing is changed')
    .addHelpText('after', '\nExit codes: 0 ready, 2 an unknown backend, 3 something is missing (each FAIL line says what to do).')
    .action(async (opts: { backend?: string; context?: string }) => {
      // --context is a cluster's: alone, it checks the cluster backend on it.
      const name = opts.backend ?? (opts.context !== undefined ? 'cluster' : undefined);
      const backends = name === undefined ? Object.values(BACKEND_REGISTRY) : [backendNamed(name)];
      if (backends.some((b) => b === undefined)) throw new CliError(`--backend ${opts.backend}: expected ${Object.keys(BACKEND_REGISTRY).join(' or ')}`, EXIT_BAD_INPUT);
      if (opts.context !== undefined && name !== 'cluster') throw new CliError(`--context: a cluster's check (--backend cluster), not the ${name} backend's`, EXIT_BAD_INPUT);
      for (const b of backends) {
        const r = await b!.doctor(opts.context !== undefined ? { context: opts.context } : {});
        ctx.io.out(`== ${b!.name}\n${r.text}`);
        if (!r.ok) ctx.exit(EXIT_ENVIRONMENT);
      }
    });
}
