// nc (netcat-openbsd) as a probe: connect, send the payload, half-close, read the answer.
// netcat-openbsd exits 1 for every failure and says which only with -v ("connect to … failed:
// Connection refused", "… timed out: Operation now in progress"; without -v it prints nothing).
// A reset after the connection is up is not reported at all (exit 0, nothing read): for nc
// that is `closed`, curl tells it apart (exit 56). Recorded in test/data/probes/outcomes. Pure.
import type { ProcessResult } from './process-result.ts';
import type { ToolReading } from './outcome.ts';
import type { ConnectProbe } from './tool.ts';

export function ncArgv(p: ConnectProbe): { argv: string[]; input?: string } {
  // netcat-openbsd's -w takes whole seconds ("nc: timeout invalid: 0.5"): the whole second at or above the timeout.
  const secs = String(Math.max(1, Math.ceil(p.timeoutMs / 1000)));
  // -N: half-close after the payload, so the client reads the answer and ends without waiting
  // out -w (tcp_proxy passes half-close through).
  return p.payload === undefined
    ? { argv: ['nc', '-v', '-z', '-w', secs, p.target.ip, String(p.target.port)] }
    : { argv: ['nc', '-v', '-N', '-w', secs, p.target.ip, String(p.target.port)], input: p.payload };
}

/** nc's answer: what it read, and its failure by the message netcat-openbsd prints. */
export function readNc(r: ProcessResult): ToolReading {
  const body = r.stdout;
  if (r.timedOut || /^nc: connect to .* timed out/m.test(r.stderr)) return { body, failure: 'timeout' };
  if (/^nc: connect to .* failed: Connection refused/m.test(r.stderr)) return { body, failure: 'refused' };
  return { body };
}
