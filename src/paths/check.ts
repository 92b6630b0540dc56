// The probe's expectations against what happened, other than the path: the reply, the HTTP
// status, the outcome, whether a SYN left the pod (believed only beside the positive
// control), the source address the app saw. Each broken expectation is one problem line. Pure.
import { RE2JS } from 're2js';
import type { Outcome, ToolReading } from '../probes/outcome.ts';
import { believeAbsence, type Packet } from '../probes/tcpdump.ts';
import type { Probe } from '../scenario/schema.ts';

export interface ProbeFacts {
  reading: ToolReading;
  outcome: Outcome;
  target: { ip: string; port: number };
  /** SYNs seen leaving the pod on eth0, the positive control's included. */
  syns: Packet[];
  /** The positive control: a SYN the capture must have seen. */
  control: { ip: string; port: number };
  /** The peer address the answering app reported. */
  appSource?: string;
}

/** Does the reply satisfy `expect.reply`? A pattern is RE2 (linear time: a file's pattern cannot hang the run). */
function replyMatches(want: NonNullable<Probe['expect']['reply']>, body: string): boolean {
  if (want.exact !== undefined) return body === want.exact;
  if (want.contains !== undefined) return body.includes(want.contains);
  if (want.pattern !== undefined) return RE2JS.compile(want.pattern).matcher(body).find();
  return body.length === 0;
}

export function expectationProblems(e: Probe['expect'], f: ProbeFacts): string[] {
  const problems: string[] = [];
  const body = f.reading.body;
  if (e.reply && !replyMatches(e.reply, body)) {
    problems.push(`the reply ${JSON.stringify(body.slice(0, 80))} is not ${JSON.stringify(e.reply.exact ?? e.reply.contains ?? e.reply.pattern ?? '(none)')}`);
  }
  const leaves = f.syns.some((p) => p.dst === f.target.ip && p.dport === f.target.port);
  if (e.leavesPod === true && !leaves) problems.push(`no SYN to ${f.target.ip}:${f.target.port} left the pod on eth0`);
  if (e.leavesPod === false) {
    const absent = believeAbsence(f.syns, f.target, f.control);
    if (!absent.believed) problems.push(absent.why);
  }
  if (e.sourceSeenByApp !== undefined && f.appSource !== e.sourceSeenByApp) problems.push(`the app saw ${f.appSource ?? 'nothing'} as the source, not ${e.sourceSeenByApp}`);
  if (e.httpStatus !== undefined && f.reading.httpStatus !== e.httpStatus) problems.push(`HTTP status ${f.reading.httpStatus ?? '(none)'}, not ${e.httpStatus}`);
  if (e.outcome !== undefined && f.outcome !== e.outcome) problems.push(`the outcome was ${f.outcome}, not ${e.outcome}`);
  return problems;
}
