import { visibleControls } from './text.ts';
/** A path into a scenario document: keys and array indices, as zod and yaml both use them. */
export type FieldPath = ReadonlyArray<string | number>;

/** One thing wrong with a scenario file, where it is, and what was expected. */
export interface ScenarioProblem {
  file: string;
  /** 1-based line and column of the offending node (1:1 for problems of the whole file). */
  line: number;
  col: number;
  /** `probes[2].expect.path[1]`, or `(file)` for the file itself, `(document)` for its root. */
  field: string;
  message: string;
}

/** `probes[2].expect.path[1]` from ['probes', 2, 'expect', 'path', 1]. */
export function formatFieldPath(path: FieldPath): string {
  if (path.length === 0) return '(document)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `FILE:LINE:COL: field: message`, the one line a user's editor can jump to. */
/**
 * One line per problem. Field names and messages quote the file's own keys and values, so their
 * control characters are shown as escapes: a newline in a quoted key cannot forge a second line,
 * an ESC cannot reach the terminal.
 */
export function formatProblem(p: ScenarioProblem): string {
  return visibleControls(`${p.file}:${p.line}:${p.col}: ${p.field}: ${p.message}`);
}

export function sortProblems(problems: ScenarioProblem[]): ScenarioProblem[] {
  // Plain comparison of file names (one file's problems share one): localeCompare made 100,000 problems sort in a third of a second.
  return problems.sort((a, b) => (a.file === b.file ? 0 : a.file < b.file ? -1 : 1) || a.line - b.line || a.col - b.col);
}
