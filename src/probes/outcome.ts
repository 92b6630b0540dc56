// How a connection ended, named the way connectivity tests name results (cilium's ResultOK,
// ResultCurlTimeout …): each tool maps its exit code and message to one of these. Pure.

export const OUTCOMES = ['reached', 'refused', 'reset', 'timeout', 'closed', 'http-error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What the client tool read and how it ended, before the path says whether it reached its target. */
export interface ToolReading {
  /** The bytes the client read (curl's trailer removed). */
  body: string;
  /** curl's %{http_code} (0 when no HTTP answer came). */
  httpStatus?: number;
  /** The failure the tool itself reports (its exit code and message); undefined when it read an answer or a close. */
  failure?: Extract<Outcome, 'refused' | 'reset' | 'timeout'>;
}

/**
 * The outcome of a connection: the tool's own failure first, then an HTTP error status, then
 * the bytes. Connect is not reach: through a sidecar the client always connects (to 15001),
 * so an answer counts as `reached` only if something went upstream (`wentUpstream`).
 */
export function outcomeOf(r: ToolReading, wentUpstream: boolean): Outcome {
  if (r.failure) return r.failure;
  if (r.httpStatus !== undefined && r.httpStatus >= 400) return 'http-error';
  // A raw client (nc) that got an HTTP error status line: the sidecar or the server answered with an error.
  if (/^HTTP\/1\.[01] [45]\d\d /.test(r.body)) return 'http-error';
  if (r.body.length === 0) return 'closed';
  return wentUpstream ? 'reached' : 'closed';
}
