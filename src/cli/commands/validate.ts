import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check scenario files (files or folders, recursively *.yaml / *.yml)')
    .argument('<path...>', 'scenario files or folders')
    .action((paths: string[]) => {
      ctx.io.out(`not yet: ${paths.join(' ')}\n`);
    });
}
