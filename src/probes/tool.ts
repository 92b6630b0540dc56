// What a probe tool is: the argument vector it runs and how its output is read. A connect
// tool (nc, curl, tcp, http) opens a connection whose path is traced; a pod-state tool (ss,
// iptables-save) reads the pod and checks the probe's expectations on it. Adding a tool is one
// file that exports one of these, its line in TOOLS (index.ts) and the schema's enum. Pure.
import type { ProcessResult } from './process-result.ts';
import type { ToolReading } from './outcome.ts';

/** A connection probe as a tool sees it: where to, what to send, how long to wait. */
export interface ConnectProbe {
  target: { ip: string; port: number; name: string };
  payload?: string;
  /** nc: half-close after the payload (the default); false keeps the sending side open. */
  halfClose?: boolean;
  /** curl: HTTPS to this name (SNI and Host), dialled at target.ip. */
  serverName?: string;
  /** The request path of an HTTP tool. */
  path?: string;
  timeoutMs: number;
}

export interface ConnectTool {
  name: string;
  kind: 'connect';
  /** What the prediction sends through Envoy: HTTP request, raw bytes (or none). */
  payloadKind: 'http' | 'bytes';
  argv(p: ConnectProbe): { argv: string[]; input?: string };
  read(r: ProcessResult): ToolReading;
}

export interface PodStateExpect {
  listening?: ReadonlyArray<{ address: string; port: number; uid?: number }>;
  rules?: readonly string[];
}

export interface PodStateTool {
  name: string;
  kind: 'pod-state';
  argv(): string[];
  /** The expectations that do not hold on the tool's output. */
  check(stdout: string, expect: PodStateExpect): string[];
}

export type ProbeTool = ConnectTool | PodStateTool;
