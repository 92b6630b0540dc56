// curl as a probe: one HTTP request, with a trailer that gives the status and both ends of the
// connection. Named results from curl's exit codes (man curl, EXIT CODES): 7 could not
// connect (refused), 28 operation timed out, 56 failure receiving (reset), 52 empty reply. Pure.
import type { ProcessResult } from './process-result.ts';
import type { ToolReading } from './outcome.ts';
import type { ConnectProbe } from './tool.ts';

const TRAILER = '\n__pathlab__ %{http_code} %{local_ip}:%{local_port} %{remote_ip}:%{remote_port}\n';
const TRAILER_LINE = /\n__pathlab__ (\d+) (\S+) (\S+)\n?$/;

export const CURL_EXIT = { couldNotConnect: 7, timedOut: 28, emptyReply: 52, recvError: 56 } as const;

export function curlArgv(p: ConnectProbe): { argv: string[] } {
  // With a server name: HTTPS to it (SNI and Host), the lab's certificate not checked (-k).
  const name = p.serverName ?? p.target.name;
  const url = `${p.serverName ? 'https' : 'http'}://${name}:${p.target.port}${p.path ?? '/'}`;
  // The name is dialled at the address the lab resolved and checked, not at what DNS says later.
  const pin = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ? [] : ['--resolve', `${name}:${p.target.port}:${p.target.ip}`, ...(p.serverName ? ['-k'] : [])];
  // --globoff: the path is the scenario's, taken literally ([] and {} are not curl's URL ranges).
  return { argv: ['curl', '-sS', '--globoff', ...pin, '--max-time', String(p.timeoutMs / 1000), '-w', TRAILER, url] };
}

export function readCurl(r: ProcessResult): ToolReading {
  const t = TRAILER_LINE.exec(r.stdout);
  const body = t ? r.stdout.slice(0, t.index) : r.stdout;
  const status = t ? Number(t[1]) : undefined;
  const base = { body, ...(status ? { httpStatus: status } : {}) };
  if (r.timedOut || r.exitCode === CURL_EXIT.timedOut) return { ...base, failure: 'timeout' };
  if (r.exitCode === CURL_EXIT.couldNotConnect) return { ...base, failure: 'refused' };
  if (r.exitCode === CURL_EXIT.recvError) return { ...base, failure: 'reset' };
  return base;
}
