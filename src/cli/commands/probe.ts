// `pathlab probe LAB-ID SCENARIO [PROBE]`: one scenario's probes (or one of them) in a running
// netns lab, as `pathlab run --lab-id` runs them: the scenario's setup applied, the probes run and
// reported, the setup reverted; the lab stays up. For a class exploring a lab, and for debugging
// one probe without bringing a lab up each time.
import { isDeepStrictEqual } from 'node:util';
import { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT } from '../exit-codes.ts';
import { loadScenarioFile } from '../../scenario/loader.ts';
import { formatProblem } from '../../scenario/problems.ts';
import { registerRun } from './run.ts';
import { labInUse, readLabRecords } from '../../lab/netns/netns-lab.ts';

export function registerProbe(program: Command, ctx: CliContext): void {
  program
    .command('probe')
    .description('run one scenario\'s probes (or one probe) in a running netns lab: its setup applied and reverted, the lab left up')
    .argument('<lab-id>', 'a running netns lab (pathlab lab up --scenario FILE, or run --keep-lab)')
    .argument('<scenario>', 'a scenario file whose lab is the one the lab was made from')
    .argument('[probe]', 'the name of one of its probes (default: all of them)')
    .option('--reporter <name>', 'console, json, junit or tap; repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addHelpText(
      'after',
      `
Exit codes: 0 the probes passed, 1 a probe failed, 2 bad input (no such lab, probe, or another lab definition), 3 the lab cannot be used.
Example:
  pathlab lab up --scenario scenarios/incident-7000/outage-current.yaml
  pathlab probe a1b2c3 scenarios/incident-7000/outage-current.yaml redis-7000`,
    )
    .action(async (labId: string, scenario: string, probe: string | undefined, opts: { reporter: string[] }) => {
      const r = loadScenarioFile(scenario);
      if (!r.ok) throw new CliError(r.problems.map(formatProblem).join('\n'), EXIT_BAD_INPUT);
      const record = readLabRecords().find((x) => x.id === labId);
      if (!record) throw new CliError(`no netns lab ${labId} (pathlab lab status lists the labs)`, EXIT_BAD_INPUT);
      const busy = labInUse(record);
      if (busy) throw new CliError(busy, EXIT_BAD_INPUT);
      if (record.spec !== undefined && !isDeepStrictEqual(record.spec, r.scenario.lab)) {
        throw new CliError(`${scenario}: its lab is not the definition lab ${labId} was made from (pathlab lab up --scenario ${scenario} makes one that is)`, EXIT_BAD_INPUT);
      }
      const names = r.scenario.probes.map((p) => p.name);
      if (probe !== undefined && !names.includes(probe)) throw new CliError(`${scenario} has no probe "${probe}" (probes: ${names.join(', ')})`, EXIT_BAD_INPUT);
      // The probe by its whole name: a glob of it (a bracketed first letter) matches that name only.
      const exact = probe === undefined ? [] : ['--probe', `[${probe[0]}]${probe.slice(1)}`];
      const argv = ['run', '--backend', 'netns', '--lab-id', labId, ...exact, ...opts.reporter.flatMap((x) => ['--reporter', x]), scenario];
      // `pathlab run` itself, on a program of its own: the same checks, run and report.
      const run = new Command('pathlab').exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err });
      registerRun(run, ctx);
      await run.parseAsync(argv, { from: 'user' });
    });
}
