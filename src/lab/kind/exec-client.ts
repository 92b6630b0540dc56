// Runs a command in a pod's container through the Kubernetes exec API (the WebSocket
// channel protocols v5.channel.k8s.io / v4.channel.k8s.io: one byte of channel, then data;
// 0 stdin, 1 stdout, 2 stderr, 3 the exit status as a JSON Status, 255 (v5 only) "this
// channel is closed"). The answer has the shape of src/lab/exec.ts's ExecResult, so a probe
// does not care which backend ran it: a non-zero exit is data.
//
// @kubernetes/client-node is loaded lazily (about 0.5 s of import). Its 1.4.0 exec handler
// treats a v5 close frame from the server as an unknown stream and throws inside the socket's
// message event, and by default ends process.stdout; the channel filter below gives it its own
// streams and consumes close frames before they reach that code.
import { PassThrough } from 'node:stream';
import type { KubeConfig, V1Status } from '@kubernetes/client-node';
import type { ExecResult } from '../exec.ts';

export const CLOSE = 255;

export interface PodExecTarget {
  namespace: string;
  pod: string;
  container: string;
}

export interface PodExecOptions {
  /** Bytes for the command's stdin. With v5 the client half-closes stdin after them. */
  input?: string | Uint8Array;
  /** Close the connection after this many milliseconds; the result says timedOut. */
  timeoutMs?: number;
}

/** Exit code of a Status from channel 3: 0 for Success, the ExitCode cause, else null. */
export function exitCodeOfStatus(status: Partial<V1Status> | undefined): number | null {
  if (!status) return null;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message !== undefined && /^\d+$/.test(cause.message)) return Number(cause.message);
  return null;
}

type WsLike = {
  protocol: string;
  readyState: number;
  close(): void;
  on?(ev: 'close', fn: (code: number, reason: Buffer) => void): unknown;
  addEventListener?(ev: 'close', fn: (e: { code: number; reason: string }) => void): unknown;
};

/** Exec against the cluster of `kc`'s current context (set it to the lab's context first). */
export class PodExecClient {
  constructor(private readonly kc: KubeConfig) {}

  async exec(target: PodExecTarget, argv: readonly string[], opts: PodExecOptions = {}): Promise<ExecResult> {
    const where = `${target.namespace}/${target.pod}/${target.container}`;
    const started = performance.now();
    const { Exec } = await import('@kubernetes/client-node');
    // Not re-exported by the package index; the package has no "exports" map, so the file is reachable.
    const { WebSocketHandler } = await import('@kubernetes/client-node/dist/web-socket-handler.js');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = opts.input === undefined ? null : new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on('data', (b: Buffer) => out.push(b));
    stderr.on('data', (b: Buffer) => err.push(b));
    const streams = { stdin: stdin ?? new PassThrough(), stdout, stderr };
    const inner = new WebSocketHandler(this.kc, undefined, streams as never);
    const filter = {
      connect: (path: string, text: ((d: string) => boolean) | null, binary: ((n: number, b: Buffer) => boolean) | null) =>
        inner.connect(path, text, (n: number, b: Buffer) => (n === CLOSE ? true : binary ? binary(n, b) : true)),
    };
    let status: V1Status | undefined;
    const result = (extra: Partial<ExecResult>): ExecResult => ({
      argv: [...argv],
      where,
      exitCode: exitCodeOfStatus(status),
      signal: null,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      durationMs: performance.now() - started,
      timedOut: false,
      ...extra,
    });
    let ws: WsLike;
    try {
      ws = (await new Exec(this.kc, filter as never).exec(
        target.namespace,
        target.pod,
        target.container,
        [...argv],
        stdout,
        stderr,
        stdin,
        false,
        (s) => {
          status = s;
        },
      )) as unknown as WsLike;
    } catch (e) {
      // client-node rejects with the WebSocket ErrorEvent, not an Error.
      return result({ exitCode: null, spawnError: `exec in ${where}: ${describeError(e)}` });
    }
    if (stdin) {
      // v4 has no half-close: client-node would close the whole connection when stdin ends,
      // losing the answer. There, stdin stays open until the command exits.
      stdin.write(opts.input);
      if (ws.protocol === 'v5.channel.k8s.io') stdin.end();
    }
    return await new Promise<ExecResult>((resolve) => {
      let timedOut = false;
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              ws.close();
            }, opts.timeoutMs);
      const done = (code: number) => {
        if (timer) clearTimeout(timer);
        // Data frames already received are in the PassThroughs; give them one tick to drain.
        setImmediate(() => {
          if (status) return resolve(result({ timedOut }));
          resolve(
            result({
              timedOut,
              exitCode: null,
              ...(timedOut ? {} : { spawnError: `exec in ${where}: connection closed before the exit status (WebSocket close ${code})` }),
            }),
          );
        });
      };
      if (ws.on) ws.on('close', (code) => done(code));
      else ws.addEventListener?.('close', (e) => done(e.code));
    });
  }
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string')
    return (e as { message: string }).message || 'WebSocket error';
  return String(e);
}
