// Runs external programs with an argument array (never a shell string) and returns what
// happened as data. A non-zero exit is not an exception here: "connection refused" may be
// exactly what a scenario expects. `check()` turns a failure into an ExecError that carries
// the whole result and says which call made it (zx's ProcessOutput is the model).
import { spawn } from 'node:child_process';
import { ProcessError, type ProcessResult } from '../probes/process-result.ts';

export interface ExecOptions {
  /** Bytes for the program's standard input (closed after them). */
  input?: string | Uint8Array;
  /** Kill the program (SIGKILL) after this many milliseconds; the result says timedOut. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** The working directory (default: this process's). */
  cwd?: string;
  /** Where this ran, for messages: a pod name, "node", "host". */
  where?: string;
}

/** What a run gave: the project's one process-result type (probes/process-result.ts). */
export type ExecResult = ProcessResult;
export { ProcessError as ExecError };

/**
 * The environment lab programs run with: PATH without node_modules/.bin (npm puts it first,
 * and a package there ships an `nft` that is not nftables) and with the sbin folders.
 */
export function systemEnv(): NodeJS.ProcessEnv {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'));
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  return { ...process.env, PATH: dirs.join(':') };
}

export function exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('exec: empty argv');
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { env: opts.env ?? systemEnv(), stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: string | undefined;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      spawnError = e.message;
    });
    child.stdin.on('error', () => {
      // The program may exit before reading its input; that is its answer, not ours.
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolvePromise({
        argv,
        where: opts.where ?? 'host',
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: performance.now() - started,
        timedOut,
        ...(spawnError === undefined ? {} : { spawnError }),
      });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Runs and throws ExecError unless the program exited 0. */
export async function execOk(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const calledFrom = callerFrame();
  const r = await exec(argv, opts);
  if (r.exitCode !== 0) throw new ProcessError(r, calledFrom);
  return r;
}

function callerFrame(): string {
  const lines = new Error().stack?.split('\n') ?? [];
  // [0] "Error", [1] callerFrame, [2] execOk, [3] the caller.
  return lines[3]?.trim().replace(/^at /, '') ?? 'unknown';
}

/** argv that runs `argv` inside network namespace `ns`, optionally as uid/gid. */
export function inNetns(ns: string, argv: readonly string[], user?: { uid: number; gid: number }): string[] {
  const base = ['ip', 'netns', 'exec', ns];
  if (!user) return [...base, ...argv];
  return [...base, 'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...argv];
}
