import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { EXIT_BAD_INPUT } from '../exit-codes.ts';
import { collectScenarioFiles } from '../../scenario/collect.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem, type ScenarioProblem } from '../../scenario/problems.ts';

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check scenario files against format pathlab/v1; every problem as FILE:LINE:COL: field: message')
    .argument('<path...>', 'scenario files, or folders searched recursively for *.yaml and *.yml')
    .option('-q, --quiet', 'print nothing when all are valid')
    .addHelpText(
      'after',
      `
Exit codes: 0 all valid, 2 a file is invalid or a path is missing.
Example:
  pathlab validate scenarios/
  pathlab validate scenarios/incident-7000/outage-legacy.yaml`,
    )
    .action((paths: string[], opts: { quiet?: boolean }) => {
      const { files, missing } = collectScenarioFiles(paths);
      const problems: ScenarioProblem[] = missing.map((m) => ({
        file: m.path,
        line: 1,
        col: 1,
        field: '(file)',
        message: m.reason,
      }));
      const names = new Map<string, string>();
      let valid = 0;
      for (const file of files) {
        const r = loadScenarioFile(file);
        if (!r.ok) {
          problems.push(...r.problems);
          continue;
        }
        const name = r.scenario.metadata.name;
        const other = names.get(name);
        if (other !== undefined) {
          problems.push({
            file,
            ...r.positionOf(['metadata', 'name']),
            field: 'metadata.name',
            message: `scenario name "${name}" is already used by ${other}`,
          });
          continue;
        }
        names.set(name, file);
        valid++;
      }
      for (const p of problems) ctx.io.err(`${formatProblem(p)}\n`);
      if (files.length === 0 && missing.length === 0) {
        ctx.io.err(`no scenario files (*.yaml, *.yml) under ${paths.join(' ')}\n`);
        ctx.exit(EXIT_BAD_INPUT);
        return;
      }
      if (problems.length > 0) {
        const bad = files.length + missing.length - valid;
        ctx.io.err(`${bad} of ${files.length + missing.length} invalid, ${problems.length} problem(s)\n`);
        ctx.exit(EXIT_BAD_INPUT);
      } else if (!opts.quiet) {
        ctx.io.out(`${valid} scenario(s) valid\n`);
      }
    });
}
