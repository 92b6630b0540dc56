import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { EXIT_BAD_INPUT } from '../exit-codes.ts';
import { collectScenarioFiles } from '../../scenario/collect.ts';
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
      // A folder may hold other YAML beside pathlab's (a lab's Kubernetes manifests): found in a
      // folder, a file whose apiVersion is another's is left alone; named, it is checked.
      const named = new Set(paths);
      const foreign = files.filter((f) => !named.has(f) && foreignApiVersion(f) !== undefined);
      let labs = 0;
      let meshes = 0;
      for (const file of files) {
        if (foreign.includes(file)) continue;
        if (isMeshFile(file)) {
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
      const checked = files.length - foreign.length + missing.length;
      if (problems.length > 0) {
        ctx.io.err(`${checked - valid} of ${checked} invalid, ${problems.length} problem(s)${skipped}\n`);
        ctx.exit(EXIT_BAD_INPUT);
      } else if (!opts.quiet) {
        const others = [labs > 0 && `${labs} Lab file(s)`, meshes > 0 && `${meshes} Mesh file(s)`].filter(Boolean);
        ctx.io.out(`${valid - labs - meshes} scenario(s)${others.length ? ` and ${others.join(' and ')}` : ''} valid${skipped}\n`);
      }
    });
}

/** The apiVersion of a YAML file's first document when it is not pathlab's (undefined for pathlab's, or when there is none to read). */
function foreignApiVersion(file: string): string | undefined {
  let head: string;
  try {
    head = readFileSync(file, 'utf8').slice(0, 4096);
  } catch {
    return undefined;
  }
  const v = /^apiVersion:\s*["']?([^\s"'#]+)/m.exec(head)?.[1];
  return v !== undefined && !v.startsWith('pathlab/') ? v : undefined;
}

function isMeshFile(file: string): boolean {
  try {
    return /^kind:\s*["']?Mesh["']?\s*$/m.test(readFileSync(file, 'utf8').slice(0, 4096));
  } catch {
    return false;
  }
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
