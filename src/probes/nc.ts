// nc (netcat-openbsd) as a probe: connect, send the payload, half-close (unless told not to), read the answer.
// netcat-openbsd exits 1 for every failure and says which only with -v ("connect to … failed:
// Connection refused", "… timed out: Operation now in progress"; without -v it prints nothing).
// A reset after the connection is up is not reported at all (exit 0, nothing read): for nc
// that is `closed`, curl tells it apart (exit 56). Recorded in test/data/probes/outcomes. Pure.
import type { ProcessResult } from './process-result.ts';
import type { ToolReading } from './outcome.ts';
import type { ConnectProbe } from './tool.ts';

/** Seconds between the payload and nc's half-close. */
export const HALF_CLOSE_DELAY_S = '0.05';

export function ncArgv(p: ConnectProbe): { argv: string[]; input?: string } {
  // netcat-openbsd's -w takes whole seconds ("nc: timeout invalid: 0.5"): the whole second at or above the timeout.
  const secs = String(Math.max(1, Math.ceil(p.timeoutMs / 1000)));
  if (p.payload === undefined) return { argv: ['nc', '-v', '-z', '-w', secs, p.target.ip, String(p.target.port)] };
  // Without a half-close (a client that keeps its side open, as redis-cli does; an HTTP
  // connection manager drops a request cut short by a half-close without answering), nc ends
  // when the server closes or after -w idle seconds (Debian's -q would half-close too).
  if (p.halfClose === false) return { argv: ['nc', '-v', '-w', secs, p.target.ip, String(p.target.port)], input: p.payload };
  // -N: half-close after the payload, so the client reads the answer and ends without waiting
  // out -w (tcp_proxy passes half-close through). The FIN follows the payload after
  // HALF_CLOSE_DELAY_S: Envoy drops a connection whose FIN arrives while its listener filters
  // still inspect the first bytes (stat downstream_listener_filter_remote_close), a race that a
  // FIN sent with the payload loses often (measured on Envoy 1.38.3: 7 of 20 and 16 of 20 got through
  // with no delay, 20 of 20 with 10, 30 and 50 ms).
  return {
    argv: ['sh', '-c', '{ cat; sleep "$0"; } | exec nc -v -N -w "$1" "$2" "$3"', HALF_CLOSE_DELAY_S, secs, p.target.ip, String(p.target.port)],
    input: p.payload,
  };
}

/** nc's answer: what it read, and its failure by the message netcat-openbsd prints. */
export function readNc(r: ProcessResult): ToolReading {
  const body = r.stdout;
  if (r.timedOut || /^nc: connect to .* timed out/m.test(r.stderr)) return { body, failure: 'timeout' };
  if (/^nc: connect to .* failed: Connection refused/m.test(r.stderr)) return { body, failure: 'refused' };
  return { body };
}
