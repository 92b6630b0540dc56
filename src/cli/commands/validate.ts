import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { EXIT_BAD_INPUT } from '../exit-codes.ts';
import { collectScenarioFiles, fileKind } from '../../scenario/collect.ts';
import { loadDocumentFile } from '../../scenario/loader.ts';
import { MeshError, parseMesh } from '../../mesh/envoy/mesh.ts';
import { decode, readText } from '../load-documents.ts';
import { formatProblem, type ScenarioProblem } from '../../scenario/problems.ts';

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check scenario, Lab and Mesh files against format pathlab/v1, every problem of a file in one pass (schema and cross-field), as FILE:LINE:COL: field: message')
    .argument('<path...>', 'scenario or Lab files, or folders searched recursively for *.yaml and *.yml')
    .option('-q, --quiet', 'print nothing when all are valid')
    .addHelpText(
      'after',
      `
Exit codes: 0 all valid, 2 a file is invalid or a path is missing.
Example:
  pathlab validate scenarios/
  pathlab validate scenarios/incident-7000/outage-legacy.yaml
  pathlab validate labs/netns/bookinfo.yaml      a Lab file`,
    )
    .action((paths: string[], opts: { quiet?: boolean }) => {
      const { files: found, others, missing } = collectScenarioFiles(paths);
      const problems: ScenarioProblem[] = missing.map((m) => ({
        file: m.path,
        line: 1,
        col: 1,
        field: '(file)',
        message: m.reason,
      }));
      const names = new Map<string, string>();
      let valid = 0;
      // A folder's Lab and Mesh files are checked too; its other tools' YAML (a lab's Kubernetes
      // manifests) is left alone. A file named on the command line is checked, whatever it is.
      const foreign = others.filter((o) => o.kind === 'other');
      const files = [...found, ...others.filter((o) => o.kind !== 'other').map((o) => o.path)];
      let labs = 0;
      let meshes = 0;
      for (const file of files) {
        if (fileKind(file) === 'mesh') {
          // A Mesh (explain --mesh, proxy-config --mesh): its schema's problems, by field path.
          const meshProblems = meshFileProblems(file);
          problems.push(...meshProblems.map((message) => ({ file, line: 1, col: 1, field: '(Mesh)', message })));
          if (meshProblems.length === 0) {
            valid++;
            meshes++;
          }
          continue;
        }
        const r = loadDocumentFile(file, file, { allowLab: true });
        if (!r.ok) {
          problems.push(...r.problems);
          continue;
        }
        if ('lab' in r) {
          valid++;
          labs++;
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
      const skipped = foreign.length > 0 ? ` (${foreign.length} other file(s) in the folders are not pathlab's: not checked)` : '';
      const checked = files.length + missing.length;
      if (problems.length > 0) {
        ctx.io.err(`${checked - valid} of ${checked} invalid, ${problems.length} problem(s)${skipped}\n`);
        ctx.exit(EXIT_BAD_INPUT);
      } else if (!opts.quiet) {
        const kinds = [labs > 0 && `${labs} Lab file(s)`, meshes > 0 && `${meshes} Mesh file(s)`].filter(Boolean);
        ctx.io.out(`${valid - labs - meshes} scenario(s)${kinds.length ? ` and ${kinds.join(' and ')}` : ''} valid${skipped}\n`);
      }
    });
}

function meshFileProblems(file: string): string[] {
  try {
    parseMesh(decode(file, readText(file)));
    return [];
  } catch (e) {
    if (e instanceof MeshError) return e.problems;
    return [(e as Error).message];
  }
}
