// nc (netcat-openbsd) as a probe: connect, send the payload, half-close, read the answer.
// Named results from its exit status and message (it exits 1 for every failure and says
// which on stderr with -v; without -v, only the message of the failing call). Pure.
import type { ProcessResult } from './process-result.ts';
import type { ToolReading } from './outcome.ts';
import type { ConnectProbe } from './tool.ts';

export function ncArgv(p: ConnectProbe): { argv: string[]; input?: string } {
  const secs = String(p.timeoutMs / 1000);
  // -N: half-close after the payload, so the client reads the answer and ends without waiting
  // out -w (tcp_proxy passes half-close through).
  return p.payload === undefined
    ? { argv: ['nc', '-z', '-w', secs, p.target.ip, String(p.target.port)] }
    : { argv: ['nc', '-N', '-w', secs, p.target.ip, String(p.target.port)], input: p.payload };
}

/** nc's answer: what it read, and its failure by the message netcat-openbsd prints. */
export function readNc(r: ProcessResult): ToolReading {
  const body = r.stdout;
  if (r.timedOut || /timed out/i.test(r.stderr)) return { body, failure: 'timeout' };
  if (/refused/i.test(r.stderr)) return { body, failure: 'refused' };
  if (/reset by peer/i.test(r.stderr)) return { body, failure: 'reset' };
  return { body };
}
