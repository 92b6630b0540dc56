// `pathlab lab up|status|down`: labs that outlive the command, for workshops and for poking at
// by hand, on the backend --backend names (found in the registry: this command never asks
// which one it is).
import { outputFormat, withOutput } from '../output.ts';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT, EXIT_ENVIRONMENT } from '../exit-codes.ts';
import { ISTIO_VERSIONS } from '../../scenario/schema.ts';
import { BACKEND_REGISTRY, DEFAULT_BACKEND, backendNamed } from '../../lab/registry.ts';
import { DEFAULT_NETNS_LAB } from '../../lab/netns/lab-commands.ts';
import { BackendInputError, BackendUnavailableError, type LabCommands, type LabIo } from '../../run/backend.ts';

const names = Object.keys(BACKEND_REGISTRY).join(' or ');

/** The lab commands of --backend, with the backend's errors as the CLI's exit codes. */
async function onBackend(name: string, ctx: CliContext, act: (labs: LabCommands, io: LabIo) => Promise<void>): Promise<void> {
  const backend = backendNamed(name);
  if (!backend) throw new CliError(`--backend ${name}: expected ${names}`, EXIT_BAD_INPUT);
  try {
    await act(backend.labs, ctx.io);
  } catch (e) {
    if (e instanceof BackendInputError) throw new CliError(e.message, EXIT_BAD_INPUT);
    if (e instanceof BackendUnavailableError) throw new CliError(e.message, EXIT_ENVIRONMENT);
    throw e;
  }
}

export function registerLab(program: Command, ctx: CliContext): void {
  const lab = program.command('lab').description('start, list and remove labs');
  lab
    .command('up')
    .description('start a lab and leave it running')
    .option('--backend <backend>', `${names} (netns: Linux namespaces, the default; kind: a kind cluster with real Istio)`, DEFAULT_BACKEND)
    .option('--lab <file>', `netns: a Lab file (default: pathlab's own ${DEFAULT_NETNS_LAB}, from any folder)`)
    .option('--scenario <file>', 'a scenario file: its lab, without its setup')
    .option('--istio-version <v>', `netns: the Istio behaviour to reproduce: ${ISTIO_VERSIONS.join(', ')}`)
    .option('--lab-id <id>', 'use this lab id (six hex digits for netns)')
    .option('--dry-run', 'print the plan (every command and file, in order) and do nothing')
    .addHelpText('after', `\nExit codes: 0 up, 2 bad input, 3 the machine cannot run it (root, missing tools, no Docker for kind).`)
    .action(async (opts: { backend: string; lab?: string; scenario?: string; istioVersion?: string; labId?: string; dryRun?: boolean }) => {
      const { backend, ...up } = opts;
      await onBackend(backend, ctx, (labs, io) => labs.up(up, io));
    });
  withOutput(
    lab
      .command('status')
      .description('list the running labs and what each holds')
      .option('--backend <backend>', names, DEFAULT_BACKEND),
    'text',
    'netns: a line per lab and its hosts; json and yaml: the labs\' records, netns only',
  ).action(async (opts: { backend: string; output?: string; json?: boolean }) => {
    const output = outputFormat(opts);
    await onBackend(opts.backend, ctx, (labs, io) => labs.status({ output }, io));
  });
  lab
    .command('down')
    .description('remove labs: namespaces, links, processes, /etc/netns entries, records (kind: the clusters)')
    .argument('[ids...]', 'lab ids (see pathlab lab status)')
    .option('--all', 'remove every lab, also what a killed run left half-made')
    .option('--backend <backend>', names, DEFAULT_BACKEND)
    .option('--lab-id <id>', 'the lab to remove (the same as naming its id)')
    .option('--dry-run', 'kind: print the plan and do nothing')
    .action(async (ids: string[], opts: { all?: boolean; backend: string; labId?: string; dryRun?: boolean }) => {
      const all = [...ids, ...(opts.labId !== undefined ? [opts.labId] : [])];
      await onBackend(opts.backend, ctx, (labs, io) => labs.down({ ids: all, ...(opts.all ? { all: true } : {}), ...(opts.dryRun ? { dryRun: true } : {}) }, io));
    });
}
